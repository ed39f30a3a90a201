"""Data model of the realistic benchmark plugin (generated once by hand-run code; kept as source)."""

import enum
import typing
from dataclasses import dataclass, field

from arcaflow_plugin_sdk import schema, validation


class Kind0(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record0:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind0, schema.name("Kind")] = Kind0.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind1(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record1:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind1, schema.name("Kind")] = Kind1.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind2(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record2:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind2, schema.name("Kind")] = Kind2.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind3(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record3:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind3, schema.name("Kind")] = Kind3.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind4(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record4:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind4, schema.name("Kind")] = Kind4.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind5(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record5:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind5, schema.name("Kind")] = Kind5.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind6(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record6:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind6, schema.name("Kind")] = Kind6.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind7(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record7:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind7, schema.name("Kind")] = Kind7.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind8(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record8:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind8, schema.name("Kind")] = Kind8.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind9(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record9:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind9, schema.name("Kind")] = Kind9.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind10(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record10:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind10, schema.name("Kind")] = Kind10.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind11(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record11:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind11, schema.name("Kind")] = Kind11.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind12(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record12:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind12, schema.name("Kind")] = Kind12.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind13(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record13:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind13, schema.name("Kind")] = Kind13.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind14(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record14:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind14, schema.name("Kind")] = Kind14.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind15(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record15:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind15, schema.name("Kind")] = Kind15.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind16(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record16:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind16, schema.name("Kind")] = Kind16.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind17(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record17:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind17, schema.name("Kind")] = Kind17.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind18(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record18:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind18, schema.name("Kind")] = Kind18.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind19(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record19:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind19, schema.name("Kind")] = Kind19.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind20(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record20:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind20, schema.name("Kind")] = Kind20.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind21(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record21:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind21, schema.name("Kind")] = Kind21.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind22(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record22:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind22, schema.name("Kind")] = Kind22.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None


class Kind23(enum.Enum):
    ALPHA = "alpha"
    BETA = "beta"
    GAMMA = "gamma"


@dataclass
class Record23:
    name: typing.Annotated[str, schema.name("Name"), schema.description("The record's name"), validation.min(1)]
    kind: typing.Annotated[Kind23, schema.name("Kind")] = Kind23.ALPHA
    count: typing.Annotated[int, schema.name("Count"), validation.min(0)] = 0
    ratio: typing.Annotated[float, schema.name("Ratio")] = 0.0
    tags: typing.Annotated[typing.List[str], schema.name("Tags")] = field(default_factory=list)
    labels: typing.Annotated[typing.Dict[str, str], schema.name("Labels")] = field(default_factory=dict)
    note: typing.Annotated[typing.Optional[str], schema.name("Note")] = None
