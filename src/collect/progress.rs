//! The progress bar: accounts and account-Regions done, errors so far. Hidden when stderr is not a
//! terminal (cron, CI), so unattended runs stay quiet.

use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress of a scan.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    accounts_total: AtomicUsize,
    accounts_done: AtomicUsize,
    accounts_with_errors: AtomicUsize,
}

impl Progress {
    /// A bar over the accounts (of so many Regions each) as they are listed, drawn on stderr when
    /// it is a terminal.
    pub fn new(visible: bool) -> Progress {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} account-Regions  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let progress = Progress {
            bar,
            accounts_total: AtomicUsize::new(0),
            accounts_done: AtomicUsize::new(0),
            accounts_with_errors: AtomicUsize::new(0),
        };
        progress.refresh_message();
        progress
    }

    /// Counts an account to scan, as the listing finds it.
    pub fn account_listed(&self, regions: usize) {
        self.accounts_total.fetch_add(1, Ordering::Relaxed);
        self.bar.inc_length(regions as u64);
        self.refresh_message();
    }

    /// Records an account as finished.
    pub fn account_done(&self, regions: usize, had_errors: bool) {
        self.accounts_done.fetch_add(1, Ordering::Relaxed);
        if had_errors {
            self.accounts_with_errors.fetch_add(1, Ordering::Relaxed);
        }
        self.bar.inc(regions as u64);
        self.refresh_message();
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn refresh_message(&self) {
        self.bar.set_message(format!(
            "accounts {}/{}  with errors {}",
            self.accounts_done.load(Ordering::Relaxed),
            self.accounts_total.load(Ordering::Relaxed),
            self.accounts_with_errors.load(Ordering::Relaxed)
        ));
    }
}
