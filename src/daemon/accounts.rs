//! The accounts of `user=`, `group=`, `socket-user=` and
//! `supplementary-groups=`: a name, looked up, or `#id`, taken as given.

use nix::unistd::{Gid, Group, Uid, User};
use wsgi_core::config::Account;

/// The password entry of an account (a `#id` must exist too).
pub fn user(a: &Account) -> Option<User> {
    match a {
        Account::Id(uid) => User::from_uid(Uid::from_raw(*uid)),
        Account::Name(n) => User::from_name(n),
    }
    .ok()
    .flatten()
}

/// The uid of an account; a `#id` need not exist.
pub fn uid(a: &Account) -> Option<Uid> {
    match a {
        Account::Id(uid) => Some(Uid::from_raw(*uid)),
        Account::Name(_) => user(a).map(|u| u.uid),
    }
}

/// The gid of a group; a `#id` need not exist.
pub fn gid(a: &Account) -> Option<Gid> {
    match a {
        Account::Id(gid) => Some(Gid::from_raw(*gid)),
        Account::Name(n) => Group::from_name(n).ok().flatten().map(|g| g.gid),
    }
}
