# Regenerates python_hello_schema.cbor: the `schema` map of a real hello from arcaflow-plugin-sdk 0.14.3.
# Usage: <venv with arcaflow-plugin-sdk and cbor2>/bin/python make_python_hello_schema.py > python_hello_schema.cbor
import dataclasses, enum, typing, sys, cbor2, json
from arcaflow_plugin_sdk import plugin, schema, atp
from arcaflow_plugin_sdk.schema import units, discriminator, discriminator_value

class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"

class Level(enum.Enum):
    LOW = 1
    HIGH = 2

@dataclasses.dataclass
class FullName:
    first: str
    last: str

@dataclasses.dataclass
class Nick:
    nick: str

@dataclasses.dataclass
class Inlined1:
    kind: int
    x: str

@dataclasses.dataclass
class Inlined2:
    kind: int
    y: int

@dataclasses.dataclass
class Tree:
    value: int
    children: typing.List["Tree"] = dataclasses.field(default_factory=list)

@dataclasses.dataclass
class GreetInput:
    name: typing.Annotated[str, schema.min(1), schema.pattern(__import__("re").compile("^[a-zA-Z]+$")), schema.name("Name"), schema.description("Who to greet"), schema.example("Arca")]
    count: typing.Annotated[int, schema.min(1), schema.max(5), schema.name("Count")] = 1
    color: typing.Optional[Color] = None
    level: typing.Optional[Level] = None
    tags: typing.Optional[typing.List[str]] = None
    extra: typing.Optional[typing.Dict[str, int]] = None
    ikeys: typing.Optional[typing.Dict[int, str]] = None
    alias: typing.Optional[typing.Annotated[typing.Union[
        typing.Annotated[FullName, discriminator_value("full")],
        typing.Annotated[Nick, discriminator_value("nick")]], discriminator("kind")]] = None
    a: typing.Annotated[typing.Optional[str], schema.conflicts("b")] = None
    b: typing.Annotated[typing.Optional[str], schema.required_if("c")] = None
    c: typing.Optional[float] = None
    anything: typing.Optional[typing.Any] = None
    size: typing.Annotated[typing.Optional[int], units(schema.UNIT_BYTE)] = None
    ratio: typing.Annotated[typing.Optional[float], units(schema.UNIT_PERCENT)] = None
    flag: bool = False
    pat: typing.Optional[__import__("re").Pattern] = None
    tree: typing.Optional[Tree] = None
    d: typing.Annotated[typing.Optional[str], schema.required_if_not("a")] = None
    greeting: str = "hello"
    inl: typing.Optional[typing.Annotated[typing.Union[
        typing.Annotated[Inlined1, discriminator_value(1)],
        typing.Annotated[Inlined2, discriminator_value(2)]], discriminator("kind", True)]] = None

@dataclasses.dataclass
class GreetSuccess:
    message: str

@dataclasses.dataclass
class GreetError:
    error: str

@plugin.step(id="greet", name="Greet", description="Says hello", outputs={"success": GreetSuccess, "error": GreetError})
def greet(params: GreetInput) -> typing.Tuple[str, typing.Union[GreetSuccess, GreetError]]:
    return "success", GreetSuccess("hi")

@dataclasses.dataclass
class WaitInput:
    seconds: float

@dataclasses.dataclass
class CancelInput:
    pass

class WaitStep:
    @plugin.step_with_signals(id="wait", name="Wait", description="waits", outputs={"success": GreetSuccess}, signal_handler_method_names=["cancel_step"], signal_emitters=[], step_object_constructor=lambda: WaitStep())
    def wait(self, params: WaitInput):
        return "success", GreetSuccess("x")
    @plugin.signal_handler(id="cancel", name="Step Cancel", description="cancel")
    def cancel_step(self, params: CancelInput):
        pass

s = plugin.build_schema(greet, WaitStep.wait)
hello = atp.HelloMessage(3, s)
ser = atp._HELLO_MESSAGE_SCHEMA.serialize(hello)
sys.stdout.buffer.write(cbor2.dumps(ser["schema"]))
