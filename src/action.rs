//! [`Action`]: the S3 actions this crate performs. A base type: the error
//! context names one, the S3 layer builds requests for them, statistics count
//! them.

use std::fmt;

/// The S3 actions this crate performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Action {
    /// `HEAD /bucket`
    HeadBucket,
    /// `PUT /bucket`
    CreateBucket,
    /// `DELETE /bucket`
    DeleteBucket,
    /// `PUT /bucket/key`
    PutObject,
    /// `GET /bucket/key`
    GetObject,
    /// `HEAD /bucket/key`
    HeadObject,
    /// `DELETE /bucket/key`
    DeleteObject,
    /// `POST /bucket?delete`
    DeleteObjects,
    /// `GET /bucket?list-type=2`
    ListObjectsV2,
    /// `PUT /bucket/key` with `x-amz-copy-source`
    CopyObject,
    /// `POST /bucket/key?uploads`
    CreateMultipartUpload,
    /// `PUT /bucket/key?partNumber&uploadId`
    UploadPart,
    /// `POST /bucket/key?uploadId`
    CompleteMultipartUpload,
    /// `DELETE /bucket/key?uploadId`
    AbortMultipartUpload,
    /// `GET /bucket?uploads`
    ListMultipartUploads,
}

impl Action {
    /// Every action, in a fixed order (the index of each is `action as usize`).
    pub const ALL: [Action; 15] = [
        Action::HeadBucket,
        Action::CreateBucket,
        Action::DeleteBucket,
        Action::PutObject,
        Action::GetObject,
        Action::HeadObject,
        Action::DeleteObject,
        Action::DeleteObjects,
        Action::ListObjectsV2,
        Action::CopyObject,
        Action::CreateMultipartUpload,
        Action::UploadPart,
        Action::CompleteMultipartUpload,
        Action::AbortMultipartUpload,
        Action::ListMultipartUploads,
    ];

    /// The action's name as in the S3 API reference.
    pub const fn name(self) -> &'static str {
        match self {
            Action::HeadBucket => "HeadBucket",
            Action::CreateBucket => "CreateBucket",
            Action::DeleteBucket => "DeleteBucket",
            Action::PutObject => "PutObject",
            Action::GetObject => "GetObject",
            Action::HeadObject => "HeadObject",
            Action::DeleteObject => "DeleteObject",
            Action::DeleteObjects => "DeleteObjects",
            Action::ListObjectsV2 => "ListObjectsV2",
            Action::CopyObject => "CopyObject",
            Action::CreateMultipartUpload => "CreateMultipartUpload",
            Action::UploadPart => "UploadPart",
            Action::CompleteMultipartUpload => "CompleteMultipartUpload",
            Action::AbortMultipartUpload => "AbortMultipartUpload",
            Action::ListMultipartUploads => "ListMultipartUploads",
        }
    }

    /// Whether the action addresses an object (as opposed to the bucket).
    pub const fn is_object_level(self) -> bool {
        !matches!(
            self,
            Action::HeadBucket
                | Action::CreateBucket
                | Action::DeleteBucket
                | Action::DeleteObjects
                | Action::ListObjectsV2
                | Action::ListMultipartUploads
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn all_is_indexed_by_discriminant() {
        for (i, a) in Action::ALL.iter().enumerate() {
            assert_eq!(*a as usize, i, "{a}");
        }
    }
}
