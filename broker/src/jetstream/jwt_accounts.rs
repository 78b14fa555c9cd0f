//! JetStream of JWT accounts at run time (nats-server `configJetStream`):
//! enabled when an account's claims grant it, its limits changed in place
//! by a claims update, disabled (streams stopped, files kept) when an
//! update takes it away. The enable and disable run on the account's API
//! task, in order with its requests.

use std::sync::Arc;

use starling_jetstream::api::account::AccountLimits;

use super::account::{AccountCommand, AccountJetStream};
use super::service::JetStream;
use crate::account::Account;
use crate::client::handle::lock;
use crate::server::ServerState;

impl JetStream {
    /// Bring a JWT account's JetStream in line with its claims' `limits`
    /// (None: the claims grant none), as nats-server's `configJetStream`:
    /// enable it (restoring the streams on disk), update the limits of
    /// the running account, or disable it (the streams stop, their files
    /// stay, the API answers 10039). The system account never gets
    /// JetStream. Called on every JWT CONNECT and claims update; cheap
    /// when nothing changes.
    pub fn configure_account(
        self: &Arc<Self>,
        server: &Arc<ServerState>,
        account: &Arc<Account>,
        limits: Option<AccountLimits>,
    ) {
        if *account.name == *server.accounts.system_name() {
            return;
        }
        let existing = lock(&self.accounts).get(&*account.name).cloned();
        let Some(state) = existing else {
            if let Err(error) = self.enable_account(server, account.clone(), limits, false) {
                tracing::error!(account = %account.name, %error, "JetStream not configured for account");
            }
            return;
        };
        let command = match limits {
            // Once enabled (by this command, queued before, or running),
            // new limits apply in place.
            Some(limits) if state.is_enabled() => {
                if state.limits() != limits {
                    tracing::info!(account = %account.name, "JetStream limits of account updated");
                    state.set_limits(limits);
                }
                return;
            }
            Some(limits) => AccountCommand::Enable(limits),
            None if state.is_enabled() => AccountCommand::Disable,
            None => return,
        };
        let _ = state.commands.send(command);
    }

    /// Apply an enable or disable command on the account's API task.
    pub(super) async fn apply_command(
        self: &Arc<Self>,
        server: &Arc<ServerState>,
        state: &Arc<AccountJetStream>,
        command: AccountCommand,
    ) {
        let name = state.account.name.to_string();
        match command {
            AccountCommand::Enable(limits) => {
                state.set_limits(limits);
                if state.is_enabled() {
                    return;
                }
                let (jetstream, server_for_restore, account) =
                    (self.clone(), server.clone(), state.clone());
                let restored = tokio::task::spawn_blocking(move || {
                    jetstream.restore_streams(&server_for_restore, &account)
                })
                .await;
                match restored {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        tracing::error!(account = %name, %error, "JetStream streams not restored");
                    }
                    Err(error) => {
                        tracing::error!(account = %name, %error, "JetStream restore failed");
                    }
                }
                state.set_enabled(true);
                tracing::info!(account = %name, "JetStream enabled for account");
            }
            AccountCommand::Disable => {
                if !state.is_enabled() {
                    return;
                }
                state.set_enabled(false);
                let (server_for_stop, account) = (server.clone(), state.clone());
                let stopped =
                    tokio::task::spawn_blocking(move || stop_streams(&server_for_stop, &account))
                        .await;
                if let Err(error) = stopped {
                    tracing::error!(account = %name, %error, "JetStream streams not stopped");
                }
                tracing::info!(account = %name, "JetStream disabled for account; its streams stay on disk");
            }
        }
    }
}

/// Stop every stream of a disabled account as a shutdown would (sync,
/// index snapshot, duplicate window, consumer states): their files stay
/// and are restored when JetStream is enabled again (nats-server's
/// `jsAccount.delete`: `stop(false, false)`). Blocking.
fn stop_streams(server: &ServerState, account: &AccountJetStream) {
    account.clear_direct_gets(server);
    let streams = std::mem::take(&mut *lock(&account.streams));
    for handle in streams.into_values() {
        handle.release_subjects(server, &account.account);
        handle.stop_blocking();
        if let Some(dir) = &handle.dir {
            super::persist::persist_on_shutdown(&handle.stream, &handle.consumers, Some(dir));
        }
        // Only now: this takes the consumers out of the stream's set.
        handle.release_consumers(server, &account.account);
    }
}
