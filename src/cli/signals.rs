//! Owns SIGINT and SIGTERM for the whole command. A command that can cancel its work gracefully
//! (a running workflow) claims the interrupts and gets them as a channel; before that (loading,
//! building venvs, reading the cache) the first interrupt ends the command at once with exit 130,
//! saying what was interrupted. Builds are made in a directory of their own and published only
//! when complete, so what an interrupt leaves behind is never used (`cache prune` removes it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

use crate::engine::Interrupt;
use crate::error::exit;
use crate::ui::Printer;

/// The interrupts of this process (one per command).
#[derive(Clone)]
pub(crate) struct Interrupts {
    rx: watch::Receiver<Interrupt>,
    claimed: Arc<AtomicBool>,
}

impl Interrupts {
    /// Starts listening; from now on SIGINT/SIGTERM no longer end the process by themselves.
    pub(crate) fn install(printer: Printer) -> Interrupts {
        let (tx, rx) = watch::channel(Interrupt::None);
        let claimed = Arc::new(AtomicBool::new(false));
        tokio::spawn(watch_signals(tx, claimed.clone(), printer));
        Interrupts { rx, claimed }
    }

    /// From now on the first interrupt asks for a graceful cancel through the returned channel
    /// (and the second for an immediate kill), instead of ending the command.
    pub(crate) fn claim(&self) -> watch::Receiver<Interrupt> {
        self.claimed.store(true, Ordering::SeqCst);
        self.rx.clone()
    }
}

async fn watch_signals(tx: watch::Sender<Interrupt>, claimed: Arc<AtomicBool>, printer: Printer) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return;
    };
    let mut count = 0;
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        count += 1;
        if !claimed.load(Ordering::SeqCst) {
            // Nothing can be cancelled gracefully yet: stop, as the default signal action would,
            // but say so. Locks are released by the kernel with the process.
            crate::ui::progress::clear();
            printer.notice(
                "interrupted before any step ran: stopped; nothing half-built will be used \
                 (`arcaflow-py cache prune` removes what was left)",
            );
            std::process::exit(exit::INTERRUPTED);
        }
        if count == 1 {
            printer.notice("interrupted: cancelling running steps (press Ctrl-C again to stop at once)");
            let _ = tx.send(Interrupt::Graceful);
        } else {
            let _ = tx.send(Interrupt::Kill);
        }
    }
}
