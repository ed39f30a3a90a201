"""arcaflow-py's fork server ("zygote") for one plugin in one run. Standard library only.

Started by the engine as `<venv python> -c <this file> arcaflow-py-zygote <module>` with a unix
SOCK_SEQPACKET socket on fd 0. It imports the plugin's package, what its entry point imports and
the SDK once, then tells the engine whether it can serve:

    {"ready": true, "pid": N}       or       {"fallback": "why not"}

Each request is one message, {"cwd": "/dir"}, carrying the step's three pipe ends (stdin, stdout,
stderr) as SCM_RIGHTS. The zygote forks a child for it and answers {"forked": pid} with a pidfd of
the child attached (the engine watches the exit through it: the child is not the engine's own).
When a child exits the zygote kills what is left in its process group, reaps it and sends
{"exited": pid, "status": wait status}.

The child becomes what `python -m <module> --atp` would have been: a session and process group of
its own, killed when the zygote dies (which dies with the engine), the pipes as fd 0/1/2, the
signal handlers and mask of a fresh interpreter, a new random seed, the step's working directory,
and the module's `__main__` run by runpy with `sys.argv[1:] == ["--atp"]`. The environment is the
zygote's, which the engine started with the plugin's environment; the engine forks only for
steps whose environment is that one.
"""

import ast
import atexit
import importlib
import importlib.util
import io
import json
import os
import select
import signal
import socket
import sys
import threading
import traceback

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
SDK_MODULES = ("arcaflow_plugin_sdk.plugin", "arcaflow_plugin_sdk.atp", "arcaflow_plugin_sdk.schema")
OPT_OUT = "__arcaflow_fork_server__"

MODULE = sys.argv[2]
# What `python -m MODULE --atp` has while it imports (runpy puts the file's path first later):
# modules read it at import time (the SDK's `plugin.run` takes `sys.argv[1:]` as a default).
sys.argv = ["-m", "--atp"]
ZYGOTE_PID = os.getpid()
# Every signal's handler as a fresh interpreter has it, before any import could change it.
INITIAL_HANDLERS = {}
for _s in signal.valid_signals():
    try:
        INITIAL_HANDLERS[_s] = signal.getsignal(_s)
    except (OSError, ValueError):
        pass

# fd 0 is the engine's socket: move it away, so nothing imported reads from or closes it.
SOCK = socket.socket(fileno=os.dup(0))
os.set_inheritable(SOCK.fileno(), False)
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
CHILDREN = {}  # pid -> pidfd
IMPORT_OUTPUT = [b"", b""]  # what the imports wrote to stdout and stderr


def open_fds():
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


# Descriptors we were started with (ours, and any the engine's own parent let it inherit): a plain
# launch has them too. Only those the imports open are a problem.
INHERITED_FDS = open_fds()


def send(obj, fds=()):
    data = json.dumps(obj).encode()
    if fds:
        socket.send_fds(SOCK, [data], list(fds))
    else:
        SOCK.send(data)


def prctl(option, arg):
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, arg, 0, 0, 0) == 0
    except Exception:
        return False


def entry_point():
    """The spec of the code `python -m MODULE` runs, and the package its relative imports use."""
    spec = importlib.util.find_spec(MODULE)
    if spec is None:
        raise ImportError(f"No module named {MODULE!r}")
    if spec.submodule_search_locations is not None:
        # `python -m pkg` imports the package, then runs pkg.__main__.
        importlib.import_module(MODULE)
        main = importlib.util.find_spec(MODULE + ".__main__")
        if main is None:
            raise ImportError(f"No module named {MODULE + '.__main__'!r}")
        return main, MODULE
    return spec, MODULE.rpartition(".")[0]


def imports_of(spec, package):
    """The modules the entry point's code imports (anywhere in it); never the entry point itself,
    whose top level runs the plugin."""
    try:
        source = spec.loader.get_source(spec.name)
        tree = ast.parse(source or "")
    except Exception:
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            try:
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level else node.module
            except (ImportError, ValueError):
                continue
            if not base:
                continue
            names.append(base)
            names.extend(f"{base}.{a.name}" for a in node.names if a.name != "*")
    return names


def preload():
    spec, package = entry_point()
    for name in list(imports_of(spec, package)) + list(SDK_MODULES):
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:
            # An attribute, not a module, or a module that fails: the step imports it itself and
            # fails (or not) exactly as a plain launch would.
            pass
    root = sys.modules.get(MODULE.partition(".")[0])
    if getattr(root, OPT_OUT, True) is False:
        return f"the plugin sets {OPT_OUT} = False"
    return None


def forkable():
    """Why the imported state cannot be forked safely, or None."""
    tasks = os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else []
    if len(tasks) > 1 or threading.active_count() > 1:
        names = ", ".join(t.name for t in threading.enumerate() if t is not threading.main_thread())
        return f"importing it started threads ({len(tasks) - 1} besides the main one{': ' + names if names else ''}), which a fork does not copy"
    opened = []
    for n in sorted(open_fds() - INHERITED_FDS):
        try:
            target = os.readlink(f"/proc/self/fd/{n}")
        except OSError:
            continue  # the descriptor listdir itself used
        opened.append(target)
    if opened:
        return f"importing it left files open ({', '.join(sorted(opened)[:5])}), which forked steps would share"
    return None


def captured(fn):
    """Runs fn with fd 1 and 2 going to temporary files; returns its result and what it wrote
    there. What the plugin prints while it is imported is replayed into every step's own stdout
    and stderr, where a plain launch would have printed it."""
    import tempfile

    saved, files, out = [], [], []
    for fd in (1, 2):
        getattr(sys, "stdout" if fd == 1 else "stderr").flush()
        f = tempfile.TemporaryFile()
        saved.append(os.dup(fd))
        files.append(f)
        os.dup2(f.fileno(), fd)
    try:
        result = fn()
    finally:
        for fd, old, f in zip((1, 2), saved, files):
            try:
                getattr(sys, "stdout" if fd == 1 else "stderr").flush()
            except Exception:
                pass
            os.dup2(old, fd)
            os.close(old)
            f.seek(0)
            out.append(f.read())
            f.close()
    return result, out[0], out[1]


def std_streams():
    """Fresh sys.stdin/stdout/stderr on fd 0/1/2, made as the interpreter makes them at start-up."""
    for name, fd, mode in (("stdin", 0, "rb"), ("stdout", 1, "wb"), ("stderr", 2, "wb")):
        old = getattr(sys, name)
        raw = io.FileIO(fd, mode, closefd=False)
        interactive = raw.isatty()
        # `-u`/PYTHONUNBUFFERED: the interpreter gave the zygote write-through streams.
        unbuffered = name != "stdin" and bool(getattr(old, "write_through", False))
        buf = raw if unbuffered else (io.BufferedReader(raw) if mode == "rb" else io.BufferedWriter(raw))
        stream = io.TextIOWrapper(
            buf,
            encoding=getattr(old, "encoding", None),
            errors=getattr(old, "errors", None),
            line_buffering=interactive or name == "stderr",
            write_through=unbuffered,
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def exit_code(e):
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except Exception:
        pass
    return 1


def run_step(request, fds):
    """In the forked child: become the plugin's `--atp` process. Never returns."""
    code = 1
    try:
        os.setsid()
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != ZYGOTE_PID:
            os._exit(1)  # the zygote died between fork and prctl
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
        for fd in set(fds) | set(CHILDREN.values()):
            if fd > 2:
                os.close(fd)
        SOCK.close()
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        for sig, handler in INITIAL_HANDLERS.items():
            try:
                if handler is not None and signal.getsignal(sig) is not handler:
                    signal.signal(sig, handler)
            except (OSError, ValueError, TypeError):
                pass
        os.chdir(request["cwd"])
        # `python -m` puts the working directory first on sys.path.
        if sys.path:
            sys.path[0] = request["cwd"]
        std_streams()
        for fd, data in ((1, IMPORT_OUTPUT[0]), (2, IMPORT_OUTPUT[1])):
            while data:
                data = data[os.write(fd, data):]
        random = sys.modules.get("random")
        if random is not None:
            random.seed()
        sys.argv = ["-m", "--atp"]
        import runpy

        try:
            runpy.run_module(MODULE, run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as e:
            code = exit_code(e)
        except BaseException:
            traceback.print_exc()
            code = 1
        # What the interpreter does at exit: wait for non-daemon threads, run atexit, flush.
        try:
            threading._shutdown()
        except Exception:
            pass
        try:
            atexit._run_exitfuncs()
        except Exception:
            pass
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
    except BaseException:
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except Exception:
            pass
    os._exit(code)


def fork_step(request, fds):
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        run_step(request, fds)
    for fd in fds:
        os.close(fd)
    # The child is ours and not reaped yet: this pidfd is surely its.
    pidfd = os.pidfd_open(pid)
    CHILDREN[pid] = pidfd
    send({"forked": pid}, [pidfd])


def reap():
    """Reaps every exited child: a step's group is killed first (its leader, a zombie, still holds
    the group id), then the engine is told its status. Orphans we adopted are reaped too."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid == 0:
            return
        pid = info.si_pid
        if pid in CHILDREN:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            continue
        pidfd = CHILDREN.pop(pid, None)
        if pidfd is not None:
            os.close(pidfd)
            send({"exited": pid, "status": status})


def serve():
    while True:
        ready, _, _ = select.select([SOCK] + list(CHILDREN.values()), [], [], 1.0)
        reap()
        if SOCK not in ready:
            continue
        msg, fds, _, _ = socket.recv_fds(SOCK, 1 << 16, 8)
        if not msg:
            return  # the engine is gone
        try:
            request = json.loads(msg)
        except ValueError:
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("cwd"), str) or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            send({"error": "a malformed request"})
            continue
        try:
            fork_step(request, fds)
        except OSError as e:
            send({"error": f"cannot fork: {e}"})


def main():
    if not (hasattr(socket, "send_fds") and hasattr(os, "pidfd_open") and hasattr(os, "waitid")):
        send({"fallback": "the plugin's Python has no socket.send_fds/os.pidfd_open (needs Python >= 3.9 on Linux >= 5.3)"})
        return
    # `python -m` puts the working directory first on sys.path; `-c` puts "".
    if sys.path and sys.path[0] == "":
        sys.path[0] = os.getcwd()
    # Processes a step leaves behind are re-parented to us, to be reaped here.
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    def attempt():
        try:
            return preload()
        except BaseException as e:
            return "importing it failed: " + "".join(traceback.format_exception_only(type(e), e)).strip()

    why, out, err = captured(attempt)
    IMPORT_OUTPUT[:] = [out, err]
    why = why or forkable()
    if why:
        send({"fallback": why})
        return
    import random  # noqa: F401  (imported here so that every child reseeds the same module)

    send({"ready": True, "pid": ZYGOTE_PID})
    serve()


main()
