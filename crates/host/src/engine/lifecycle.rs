//! Where a worker is in its life, and why it ended.

/// Why a worker process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// It died by itself (a crash, a kill from outside).
    Crashed,
    /// It went past its memory bound: killed by the host or the kernel, or
    /// its engine could not get more memory.
    Memory,
    /// It did not stop a cancelled or timed-out run: stuck in synchronous code.
    Stuck,
    /// It did not answer a health ping in time.
    Unhealthy,
    /// It sent something the host could not understand.
    Protocol,
    /// It was replaced on purpose (run count or heap size) after draining.
    Recycled,
    /// It was retired after staying idle beyond the pool's minimum size.
    Idle,
    /// The pool shut it down, or was dropped, or a test asked.
    Requested,
}

/// Where a worker is in its life. Moves only forward: serving, then
/// (optionally) replaced and drained, then stopped or killed, then exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// Takes new work.
    Serving,
    /// A replacement is starting; it takes new work until that one serves.
    Replacing,
    /// Replaced or idle: takes no new work, serves its open sessions, and is
    /// stopped once it has nothing left; ends as `cause`.
    Draining { cause: Cause },
    /// Asked to shut down once drained; ends as `cause`.
    Stopping { cause: Cause },
    /// Being killed.
    Killing { cause: Cause, reason: String },
    /// The process has ended (the connection keeps how). `retired`: it was
    /// drained on purpose, so its replacement already serves.
    Exited { cause: Cause, retired: bool },
}

impl Lifecycle {
    /// Whether new runs may go to it.
    pub(crate) fn accepts_work(&self) -> bool {
        matches!(self, Lifecycle::Serving | Lifecycle::Replacing)
    }

    /// Whether its open sessions may still run.
    pub(crate) fn serves_sessions(&self) -> bool {
        matches!(
            self,
            Lifecycle::Serving
                | Lifecycle::Replacing
                | Lifecycle::Draining { .. }
                | Lifecycle::Stopping { .. }
        )
    }

    /// Whether it was taken out of service on purpose (it gets no replacement).
    pub(crate) fn is_retired(&self) -> bool {
        match self {
            Lifecycle::Draining { .. } | Lifecycle::Stopping { .. } => true,
            Lifecycle::Exited { retired, .. } => *retired,
            _ => false,
        }
    }

    /// Starts its replacement; false when one is already starting or it is
    /// on its way out.
    pub(crate) fn replace(&mut self) -> bool {
        if *self != Lifecycle::Serving {
            return false;
        }
        *self = Lifecycle::Replacing;
        true
    }

    /// Takes it out of service; false when it already is.
    pub(crate) fn drain(&mut self, cause: Cause) -> bool {
        if !self.accepts_work() {
            return false;
        }
        *self = Lifecycle::Draining { cause };
        true
    }

    /// Marks a drained worker as asked to stop; false unless it was draining.
    pub(crate) fn stop(&mut self) -> bool {
        let Lifecycle::Draining { cause } = *self else {
            return false;
        };
        *self = Lifecycle::Stopping { cause };
        true
    }

    /// Marks it as being killed. A worker already on its way out keeps the
    /// cause it had: the first reason recorded is the one reported. False
    /// when it is already being killed or has exited.
    pub(crate) fn kill(&mut self, cause: Cause, reason: &str) -> bool {
        let cause = match self {
            Lifecycle::Killing { .. } | Lifecycle::Exited { .. } => return false,
            Lifecycle::Stopping { cause } => *cause,
            _ => cause,
        };
        *self = Lifecycle::Killing {
            cause,
            reason: reason.to_owned(),
        };
        true
    }

    /// The reason given for killing it, if it is being killed.
    pub(crate) fn kill_reason(&self) -> Option<&str> {
        match self {
            Lifecycle::Killing { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// Marks the process as ended; returns why it ended. `died_of` is what
    /// the host found out about an end it did not cause (`Crashed` when
    /// nothing more is known).
    pub(crate) fn exit(&mut self, died_of: Cause) -> Cause {
        let (cause, retired) = match self {
            Lifecycle::Exited { cause, .. } => return *cause,
            Lifecycle::Serving | Lifecycle::Replacing => (died_of, false),
            // Drained but not yet stopped: it died by itself.
            Lifecycle::Draining { .. } => (died_of, true),
            Lifecycle::Stopping { cause } => (*cause, true),
            Lifecycle::Killing { cause, .. } => (*cause, false),
        };
        *self = Lifecycle::Exited { cause, retired };
        cause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_worker_drains_then_stops_and_ends_as_recycled() {
        let mut life = Lifecycle::Serving;
        assert!(life.replace() && !life.replace());
        assert!(life.accepts_work());
        assert!(life.drain(Cause::Recycled));
        assert!(!life.accepts_work() && life.serves_sessions() && life.is_retired());
        assert!(life.stop() && !life.stop());
        assert_eq!(life.exit(Cause::Crashed), Cause::Recycled);
        assert!(life.is_retired() && !life.serves_sessions());
    }

    #[test]
    fn the_first_cause_recorded_is_reported() {
        let mut life = Lifecycle::Draining { cause: Cause::Idle };
        assert!(life.stop());
        assert!(life.kill(Cause::Requested, "did not stop"));
        assert_eq!(life.kill_reason(), Some("did not stop"));
        assert!(!life.kill(Cause::Unhealthy, "again"));
        assert_eq!(life.exit(Cause::Crashed), Cause::Idle);
    }

    #[test]
    fn a_worker_that_dies_by_itself_crashed() {
        let mut serving = Lifecycle::Serving;
        assert_eq!(serving.exit(Cause::Crashed), Cause::Crashed);
        assert!(!serving.is_retired());
        let mut draining = Lifecycle::Draining {
            cause: Cause::Recycled,
        };
        assert_eq!(draining.exit(Cause::Crashed), Cause::Crashed);
        assert!(draining.is_retired(), "its replacement already serves");
        let mut killed = Lifecycle::Serving;
        killed.kill(Cause::Stuck, "stuck");
        assert!(!killed.accepts_work() && !killed.serves_sessions());
        assert_eq!(killed.exit(Cause::Crashed), Cause::Stuck);
    }

    #[test]
    fn an_end_found_to_be_memory_counts_as_memory_unless_the_host_caused_it() {
        let mut serving = Lifecycle::Serving;
        assert_eq!(serving.exit(Cause::Memory), Cause::Memory);
        let mut stopping = Lifecycle::Stopping {
            cause: Cause::Recycled,
        };
        assert_eq!(stopping.exit(Cause::Memory), Cause::Recycled);
        let mut killed = Lifecycle::Serving;
        killed.kill(Cause::Memory, "past the ceiling");
        assert_eq!(killed.exit(Cause::Crashed), Cause::Memory);
    }
}
