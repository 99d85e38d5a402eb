//! EndTxn (API key 26), v0-5.
//!
//! - v1: no wire change. v2: PRODUCER_FENCED (below v2 answered as INVALID_PRODUCER_EPOCH).
//!   v3: flexible. v4: more error codes. v5 (transactions v2, KIP-890 part 2): every EndTxn
//!   bumps the producer epoch (a new producer id once it is exhausted), and the response
//!   carries the producer id and epoch for the next transaction; a retry comes with the epoch
//!   from before the bump and gets the current one; an abort with nothing written still bumps.
//! - Commit or abort: PrepareCommit/PrepareAbort, markers into every partition of the
//!   transaction, CompleteCommit/CompleteAbort, all written before the answer (see
//!   [`crate::coordinator::transaction`]). A retry of a completed EndTxn succeeds; the other
//!   outcome of a completed transaction is INVALID_TXN_STATE; EndTxn during completion is
//!   CONCURRENT_TRANSACTIONS.

use super::txn_common::fenced_for_version;
use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::kafka_protocol::messages::{
    EndTxnRequest, EndTxnResponse, ProducerId, ResponseKind,
};

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: EndTxnRequest) -> Reply {
    let mut resp = EndTxnResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    match broker.txn.end_txn(
        req.transactional_id.as_str(),
        req.producer_id.0,
        req.producer_epoch,
        req.committed,
        if ctx.version >= 5 { 2 } else { 0 },
    ) {
        Ok((pid, epoch)) => {
            if ctx.version >= 5 {
                resp.producer_id = ProducerId(pid);
                resp.producer_epoch = epoch;
            }
        }
        Err(e) => resp.error_code = fenced_for_version(e, ctx.version, 2).code(),
    }
    Reply::Response(ResponseKind::EndTxn(resp))
}
