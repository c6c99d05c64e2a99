//! TokenReview (authentication.k8s.io/v1, create only and virtual, like the other review
//! resources): authenticates `spec.token` for `spec.audiences` (the API audiences when empty) with
//! the bearer-token authenticators and returns the object with `status` filled in.

use crate::auth::review::{answered, user_info};
use crate::auth::Authenticator;
use crate::registry::Store;
use crate::status::{ApiError, ApiResult};
use serde_json::{json, Value};

/// Answer a TokenReview.
pub async fn create(authenticator: &Authenticator, store: &Store, mut review: Value) -> ApiResult<Value> {
    if !review.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request was in an unknown format",
        ));
    }
    let token = review
        .pointer("/spec/token")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if token.is_empty() {
        return Err(ApiError::bad_request(
            "token is required for TokenReview in authentication",
        ));
    }
    let mut audiences: Vec<String> = review
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    if audiences.is_empty() {
        audiences = authenticator.api_audiences().to_vec();
    }
    let requested = (!audiences.is_empty()).then_some(audiences.as_slice());
    let mut status = json!({"authenticated": false});
    match authenticator.authenticate_token(&token, requested, store).await {
        Ok(Some((user, accepted))) => {
            if !audiences.is_empty() && !accepted.iter().any(|a| audiences.contains(a)) {
                return Err(ApiError::internal("error validating audiences"));
            }
            status = json!({"authenticated": true, "user": user_info(&user), "audiences": accepted});
        }
        Ok(None) => status["error"] = json!("invalid bearer token"),
        Err(why) => status["error"] = json!(format!("[invalid bearer token, {why}]")),
    }
    review["status"] = status;
    answered(&mut review);
    Ok(review)
}
