//! `!lpc message X` (who waits for a reply, who serves it) and `!alpc /m X`.

use super::grammar::hex_token;
use super::{Out, Step};
use crate::model::{AlpcMessage, LpcMessage};

#[derive(Default)]
pub(crate) struct LpcParser {
    msg: Option<LpcMessage>,
}

fn message_id(s: &str) -> u32 {
    hex_token(s)
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0)
}

impl LpcParser {
    /// ```text
    /// Searching message 6345018 in threads ...
    /// Client thread 86b64388 waiting a reply from 6345018
    ///     Server thread 87f0d790 is working on message 6345018
    /// Server process    : 8a2c0d88 (svchost.exe)
    /// Server connection port e1c8b660  Name: epmapper
    /// ```
    pub(crate) fn line(&mut self, t: &str, n: u64) -> Step {
        let words: Vec<&str> = t.split_whitespace().collect();
        let msg = self.msg.get_or_insert(LpcMessage {
            id: 0,
            server_thread: None,
            client_thread: None,
            server_process: None,
            server_image: None,
            port_name: None,
            line: n,
        });
        match words.as_slice() {
            ["Searching", "message", id, ..] => msg.id = message_id(id),
            ["Server", "thread", addr, "is", "working", "on", "message", id, ..] => {
                msg.server_thread = hex_token(addr);
                if msg.id == 0 {
                    msg.id = message_id(id);
                }
            }
            ["Client", "thread", addr, "waiting", "a", "reply", "from", id, ..] => {
                msg.client_thread = hex_token(addr);
                if msg.id == 0 {
                    msg.id = message_id(id);
                }
            }
            ["Server", "process", ":", addr, image @ ..] => {
                msg.server_process = hex_token(addr);
                msg.server_image = image
                    .first()
                    .map(|s| s.trim_matches(|c| c == '(' || c == ')').to_string());
            }
            ["Server", "connection", "port", _, "Name:", name, ..] => {
                msg.port_name = Some(name.to_string())
            }
            _ => {}
        }
        Step::Used
    }

    pub(crate) fn end(self, out: &mut Out) {
        if let Some(m) = self.msg.filter(|m| m.id != 0) {
            out.record();
            out.snap.lpc_messages.push(m);
        }
    }
}

#[derive(Default)]
pub(crate) struct AlpcParser {
    msg: Option<AlpcMessage>,
}

impl AlpcParser {
    /// ```text
    /// Message @ fffff8800ca972b0
    ///   MessageID             : 0x23AC (9132)
    ///   WaitingThread         : fffffa80090fbc60
    ///   QueueType             : ALPC_MSGQUEUE_MAIN
    ///   QueuePort             : fffffa8004e44b60 [ALPC_CONNECTION_PORT]
    ///   QueuePortOwnerProcess : fffffa800a4628f0 (ServiceA.exe)
    ///   ServerThread          : 0000000000000000
    /// ```
    pub(crate) fn line(&mut self, t: &str, n: u64, out: &mut Out) -> Step {
        if let Some(rest) = t.strip_prefix("Message @") {
            self.end(out);
            self.msg = hex_token(rest.trim()).map(|address| AlpcMessage {
                address,
                id: None,
                waiting_thread: None,
                server_thread: None,
                queue_port: None,
                queue_owner_process: None,
                queue_owner_image: None,
                queue_type: None,
                line: n,
            });
            return Step::Used;
        }
        let (Some(m), Some((k, v))) = (self.msg.as_mut(), t.split_once(':')) else {
            return Step::Used;
        };
        let mut words = v.split_whitespace();
        let first = words.next().unwrap_or("");
        let addr = hex_token(first).filter(|&a| a != 0);
        match k.trim() {
            "MessageID" => m.id = hex_token(first).and_then(|v| u32::try_from(v).ok()),
            "WaitingThread" => m.waiting_thread = addr,
            "ServerThread" => m.server_thread = addr,
            "QueuePort" => m.queue_port = addr,
            "QueueType" => m.queue_type = Some(first.to_string()),
            "QueuePortOwnerProcess" => {
                m.queue_owner_process = addr;
                m.queue_owner_image = words
                    .next()
                    .map(|w| w.trim_matches(|c| c == '(' || c == ')').to_string());
            }
            _ => {}
        }
        Step::Used
    }

    pub(crate) fn end(&mut self, out: &mut Out) {
        if let Some(m) = self.msg.take() {
            out.record();
            out.snap.alpc_messages.push(m);
        }
    }
}
