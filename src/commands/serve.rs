//! Owns `serve-plugin`: start the executor plugin's HTTP server, serve until SIGTERM/SIGINT,
//! then cancel running steps as `run` does (a second signal kills them) and exit 0 once every
//! step has ended.

use std::time::Duration;

use crate::argo::serve::executions::{Executions, Settings};
use crate::argo::serve::http::{router, Server};
use crate::argo::serve::manifest::{self, Resources};
use crate::cli::argo::ServePluginArgs;
use crate::cli::invocation::Invocation;
use crate::engine::Interrupt;
use crate::error::{exit, Error, Result};
use crate::ui::Printer;

pub(crate) async fn serve(inv: &Invocation, a: ServePluginArgs, verbosity: i8) -> Result<i32> {
    if a.manifest || a.configmap {
        return install_text(&a);
    }
    crate::ui::logging::init(verbosity, None);
    let seconds = |name: &str, s: f64| {
        if s.is_finite() && s > 0.0 {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err(Error::Usage(format!("--{name} must be a positive number of seconds")))
        }
    };
    let settings = Settings {
        key: a.key,
        max_concurrent: a.max_concurrent as usize,
        reply_within: seconds("reply-within", a.reply_within)?,
        requeue: seconds("requeue", a.requeue)?,
        max_finished: a.max_finished as usize,
        workdir: a.workdir,
        verbosity,
    };
    // The first SIGTERM/SIGINT stops serving and cancels running steps; a second kills them.
    let rx = inv.interrupts.claim();
    let executions = Executions::new(settings, rx.clone());
    let server = Server::new(executions.clone(), a.token_file);
    let address = std::net::SocketAddr::new(a.address, a.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| Error::io(format!("cannot listen on {address}"), e))?;
    let bound = listener.local_addr().map_err(|e| Error::io("cannot read the listening address", e))?;
    let printer = Printer::new(verbosity);
    printer.notice(&format!("serve-plugin: listening on {bound}"));
    let mut stop = rx.clone();
    let shutdown = async move {
        let _ = stop.wait_for(|i| *i != Interrupt::None).await;
    };
    let served = axum::serve(listener, router(server)).with_graceful_shutdown(shutdown).await;
    if let Err(e) = served {
        return Err(Error::io("the executor plugin's server failed", e));
    }
    // Calls in flight have had their answers; wait for cancelled steps to end (and be reaped).
    executions.drained().await;
    printer.notice("serve-plugin: stopped");
    Ok(exit::SUCCESS)
}

/// `--manifest`/`--configmap`: the text that installs the plugin, on stdout.
fn install_text(a: &ServePluginArgs) -> Result<i32> {
    let mut o = manifest::Options::new(&a.image);
    o.name = a.name.clone();
    o.namespace = a.namespace.clone();
    o.port = a.port;
    o.requests = Resources { cpu: a.cpu_request.clone(), memory: a.memory_request.clone() };
    o.limits = Resources { cpu: a.cpu_limit.clone(), memory: a.memory_limit.clone() };
    o.service_account_token = !a.no_service_account_token;
    o.check().map_err(Error::Usage)?;
    let text = if a.manifest { manifest::plugin_yaml(&o) } else { manifest::configmap_yaml(&o) };
    crate::ui::output::print(&text);
    Ok(exit::SUCCESS)
}
