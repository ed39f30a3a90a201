"""Benchmark steps: one that returns at once, one that sleeps. Outputs are integers and strings only,
so both engines print them identically."""

import time
from dataclasses import dataclass

from arcaflow_plugin_sdk import plugin


@dataclass
class FastInput:
    value: int
    text: str = "x"


@dataclass
class FastOutput:
    value: int
    text: str
    length: int


@plugin.step(
    id="fast",
    name="Fast",
    description="Returns its input at once",
    outputs={"success": FastOutput},
)
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


@plugin.step(
    id="sleep",
    name="Sleep",
    description="Sleeps for the given milliseconds, then returns",
    outputs={"success": SleepOutput},
)
def sleep(params: SleepInput):
    time.sleep(params.ms / 1000.0)
    return "success", SleepOutput(value=params.value, slept_ms=params.ms)


STEPS = [fast, sleep]
