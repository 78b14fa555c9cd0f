//! `no_auth_user`, checked once the whole file is applied (it may come
//! before the `authorization` block it names).

use super::error::ConfigError;
use super::field::Field;
use crate::options::Options;

/// nats-server 2.9's `validateNoAuthUser`: the name must be one of the
/// users of `authorization` or of an account (NKey users do not count in 2.9).
pub(super) fn check_no_auth_user(field: &Field<'_>, options: &Options) -> Result<(), ConfigError> {
    let Some(name) = &options.no_auth_user else {
        return Ok(());
    };
    let users: Vec<&crate::options::User> = options
        .authorization
        .users
        .iter()
        .chain(
            options
                .accounts
                .iter()
                .flat_map(|account| account.users.iter()),
        )
        .collect();
    if users.iter().all(|user| user.nkey.is_some()) {
        return Err(field.invalid(format!(
            "no_auth_user: {name:?} present, but users are not defined"
        )));
    }
    if !users
        .iter()
        .any(|user| user.nkey.is_none() && user.username == *name)
    {
        return Err(field.invalid(format!(
            "no_auth_user: {name:?} not present as user in authorization block or account configuration"
        )));
    }
    Ok(())
}
