//! The neighbourhood feed (DESIGN §6): public posts, by neighbourhood, 0.01° grid cell and
//! UTC hour. What anyone signed in sees ([`FeedPost`]) names no account, camera or clip; only
//! the owner's own listing ([`MyFeedPost`]) adds the clip it came from.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A post as every signed-in user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedPost {
    /// Random; says nothing about the owner.
    pub id: String,
    pub neighbourhood: String,
    /// `LAT,LON` of the 0.01° grid cell (about 1 km), e.g. `51.51,-0.12`.
    pub area: String,
    /// The clip's start rounded down to the UTC hour, in ms since the epoch.
    pub hour_ms: i64,
    /// Size of the video in bytes.
    pub size_bytes: u64,
}

/// A page of the feed, newest hour first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedPage {
    pub posts: Vec<FeedPost>,
    /// Pass as `before` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One of the caller's own posts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MyFeedPost {
    pub id: String,
    pub neighbourhood: String,
    pub area: String,
    pub hour_ms: i64,
    pub size_bytes: u64,
    /// The clip it was made from; `None` once that clip is deleted.
    pub clip_id: Option<String>,
    pub created_at_ms: i64,
}

/// The caller's own posts, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MyFeedPosts {
    pub posts: Vec<MyFeedPost>,
}
