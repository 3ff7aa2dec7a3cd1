//! What the unit tests of the SDK calls share, for the faults the emulator cannot produce: raw
//! HTTP answers for clients mocked with aws-smithy-mocks, and an environment to pass them.

use std::sync::Arc;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use crate::aws::AwsEnvironment;
use crate::config::Config;

/// An answer with HTTP `status`, AWS's request id header and `body` as it arrives.
pub(crate) fn answer(status: u16, request_id: &str, body: &'static str) -> HttpResponse {
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).expect("an HTTP status"),
        SdkBody::from(body),
    );
    response
        .headers_mut()
        .insert("x-amzn-RequestId", request_id.to_owned());
    response
        .headers_mut()
        .insert("Content-Type", "application/json");
    response
}

/// An HTTP 500 with its error code, as AWS answers when it fails inside.
pub(crate) fn internal_error(request_id: &str) -> HttpResponse {
    answer(
        500,
        request_id,
        r#"{"__type": "InternalServerException", "message": "internal error"}"#,
    )
}

/// The environment a collector takes (its rate limits): the mocked clients make every call.
pub(crate) async fn environment() -> AwsEnvironment {
    AwsEnvironment::load(Arc::new(Config::default())).await
}
