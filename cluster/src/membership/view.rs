//! What the machine shows: the Members frame content and the cluster's
//! client URLs.

use starling_proto::route::Member;

use super::io::Action;
use super::machine::Membership;

impl Membership {
    /// The Members frame content: this node and every node it has a live
    /// route to.
    pub fn members(&self) -> Vec<Member> {
        let mut members = vec![self.local.clone()];
        members.extend(
            self.members
                .values()
                .filter(|m| m.route.is_some())
                .map(|m| m.info.clone()),
        );
        members
    }

    /// Client URLs of this node (unless in lame duck) and of every routed
    /// member not in lame duck, without duplicates.
    pub fn client_urls(&self) -> &[String] {
        &self.client_urls
    }

    /// See [`Membership::client_urls`].
    pub(super) fn compute_client_urls(&self) -> Vec<String> {
        let mut urls: Vec<String> = Vec::new();
        let local = (!self.local.lame_duck).then_some(&self.local.client_urls);
        let routed = self
            .members
            .values()
            .filter(|m| m.route.is_some() && !m.info.lame_duck)
            .map(|m| &m.info.client_urls);
        for url in local.into_iter().chain(routed).flatten() {
            if !urls.contains(url) {
                urls.push(url.clone());
            }
        }
        urls
    }

    /// Recompute the client URLs; a change is an [`Action::MembersChanged`].
    pub(super) fn check_client_urls(&mut self) {
        let urls = self.compute_client_urls();
        if urls != self.client_urls {
            self.client_urls = urls;
            self.actions.push(Action::MembersChanged);
        }
    }
}
