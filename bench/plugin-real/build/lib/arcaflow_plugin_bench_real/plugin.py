"""Realistic benchmark plugin: the `fast` and `sleep` steps of bench/plugin (same inputs and
outputs, so the workflows are the same), plus the kind of steps and imports a real utility plugin
has (uuid, hashing, base64, time zones, an HTTP client, a generated data model), so that importing
it costs what importing a real plugin costs."""

import base64
import datetime
import email.utils
import hashlib
import ipaddress
import json
import logging
import subprocess
import tempfile
import time
import typing
import urllib.request
import uuid
import zoneinfo
from dataclasses import dataclass

from arcaflow_plugin_sdk import plugin, schema

from arcaflow_plugin_bench_real import model

LOG = logging.getLogger(__name__)


@dataclass
class FastInput:
    value: int
    text: str = "x"


@dataclass
class FastOutput:
    value: int
    text: str
    length: int


@plugin.step(id="fast", name="Fast", description="Returns its input at once", outputs={"success": FastOutput})
def fast(params: FastInput):
    return "success", FastOutput(value=params.value, text=params.text, length=len(params.text))


@dataclass
class SleepInput:
    ms: int
    value: int = 0


@dataclass
class SleepOutput:
    value: int
    slept_ms: int


@plugin.step(id="sleep", name="Sleep", description="Sleeps, then returns", outputs={"success": SleepOutput})
def sleep(params: SleepInput):
    time.sleep(params.ms / 1000.0)
    return "success", SleepOutput(value=params.value, slept_ms=params.ms)


@dataclass
class UuidInput:
    count: typing.Annotated[int, schema.name("How many")] = 1


@dataclass
class UuidOutput:
    uuids: typing.List[str]


@plugin.step(id="uuid", name="UUIDs", description="Generates UUIDs", outputs={"success": UuidOutput})
def make_uuids(params: UuidInput):
    return "success", UuidOutput(uuids=[str(uuid.uuid4()) for _ in range(params.count)])


@dataclass
class DigestInput:
    text: str
    algorithm: str = "sha256"


@dataclass
class DigestOutput:
    hex: str
    base64: str


@plugin.step(id="digest", name="Digest", description="Hashes a text", outputs={"success": DigestOutput})
def digest(params: DigestInput):
    d = hashlib.new(params.algorithm, params.text.encode())
    return "success", DigestOutput(hex=d.hexdigest(), base64=base64.b64encode(d.digest()).decode())


@dataclass
class NowInput:
    zone: str = "UTC"


@dataclass
class NowOutput:
    iso: str
    rfc2822: str


@plugin.step(id="now", name="Now", description="The time in a zone", outputs={"success": NowOutput})
def now(params: NowInput):
    t = datetime.datetime.now(zoneinfo.ZoneInfo(params.zone))
    return "success", NowOutput(iso=t.isoformat(), rfc2822=email.utils.format_datetime(t))


@dataclass
class RecordsInput:
    records: typing.List[model.Record0]
    extra: typing.Optional[model.Record1] = None


@dataclass
class RecordsOutput:
    names: typing.List[str]
    summary: str


@plugin.step(id="records", name="Records", description="Summarises records", outputs={"success": RecordsOutput})
def records(params: RecordsInput):
    names = [r.name for r in params.records]
    return "success", RecordsOutput(names=names, summary=json.dumps({"n": len(names)}))


@dataclass
class FetchInput:
    url: str
    timeout: float = 5.0


@dataclass
class FetchOutput:
    status: int
    address: str


@plugin.step(id="fetch", name="Fetch", description="GETs a URL", outputs={"success": FetchOutput})
def fetch(params: FetchInput):
    with urllib.request.urlopen(params.url, timeout=params.timeout) as r:
        host = urllib.request.urlparse(params.url).hostname or "127.0.0.1"
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            address = host
        return "success", FetchOutput(status=r.status, address=address)


@dataclass
class ShellInput:
    args: typing.List[str]


@dataclass
class ShellOutput:
    code: int
    stdout: str


@plugin.step(id="shell", name="Shell", description="Runs a command", outputs={"success": ShellOutput})
def shell(params: ShellInput):
    with tempfile.TemporaryFile() as out:
        code = subprocess.call(params.args, stdout=out)
        out.seek(0)
        return "success", ShellOutput(code=code, stdout=out.read().decode(errors="replace"))


STEPS = [fast, sleep, make_uuids, digest, now, records, fetch, shell]
