//! Conditional writes: [`Conditions`] (S3's `If-Match` / `If-None-Match`,
//! which every backing honours with the same rule) and the version tag a
//! blob gets when it is written whole ([`md5_etag`]). Pure code, shared by the
//! S3 layer and every backing.

use md5::{Digest, Md5};

/// The conditions of a write (or read): S3's `If-Match` / `If-None-Match`,
/// which every [`Backing`](crate::blocking::Backing) honours the same way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    /// `If-Match: <etag>`: only if the object's current ETag is this one.
    pub if_match: Option<String>,
    /// `If-None-Match: <etag or *>`: `*` means only if the object does not exist.
    pub if_none_match: Option<String>,
}

impl Conditions {
    /// No conditions.
    pub const NONE: Conditions = Conditions {
        if_match: None,
        if_none_match: None,
    };

    /// `If-Match: etag`.
    pub fn if_match(etag: impl Into<String>) -> Self {
        Conditions {
            if_match: Some(etag.into()),
            if_none_match: None,
        }
    }

    /// `If-None-Match: *` (create only).
    pub fn if_absent() -> Self {
        Conditions {
            if_match: None,
            if_none_match: Some("*".to_owned()),
        }
    }

    /// Whether any condition is set.
    pub fn is_conditional(&self) -> bool {
        self.if_match.is_some() || self.if_none_match.is_some()
    }

    /// Whether a write under these conditions goes ahead when the object's
    /// current ETag is `current` (`None`: there is no object), as S3 decides
    /// it; `false` is S3's 412 Precondition Failed.
    ///
    /// ```
    /// use konserve_s3::Conditions;
    ///
    /// assert!(Conditions::if_absent().hold_for(None));
    /// assert!(!Conditions::if_absent().hold_for(Some("\"a\"")));
    /// assert!(Conditions::if_match("\"a\"").hold_for(Some("\"a\"")));
    /// assert!(!Conditions::if_match("\"a\"").hold_for(None));
    /// ```
    pub fn hold_for(&self, current: Option<&str>) -> bool {
        let match_holds = self
            .if_match
            .as_deref()
            .is_none_or(|etag| current == Some(etag));
        let none_match_holds = match self.if_none_match.as_deref() {
            None => true,
            Some("*") => current.is_none(),
            Some(etag) => current != Some(etag),
        };
        match_holds && none_match_holds
    }
}

/// The quoted hex MD5 of `body`: the ETag S3 gives an object uploaded in one PUT.
pub fn md5_etag(body: &[u8]) -> String {
    md5_etag_of(&[body])
}

/// [`md5_etag`] of `pieces` one after the other.
pub(crate) fn md5_etag_of(pieces: &[&[u8]]) -> String {
    let mut md5 = Md5::new();
    pieces.iter().for_each(|p| md5.update(p));
    let digest = md5.finalize();
    let mut s = String::with_capacity(34);
    s.push('"');
    for b in digest.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s.push('"');
    s
}
