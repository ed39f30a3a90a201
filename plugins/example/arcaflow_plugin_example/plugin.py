"""An example plugin: greets someone, and counts the words of a text."""

import typing
from dataclasses import dataclass, field

from arcaflow_plugin_sdk import plugin, schema, validation


@dataclass
class GreetInput:
    name: typing.Annotated[
        str,
        validation.min(1),
        schema.name("Name"),
        schema.description("Who to greet"),
    ]
    greeting: typing.Annotated[
        str,
        schema.name("Greeting"),
        schema.description("The word to greet with"),
    ] = "Hello"


@dataclass
class GreetOutput:
    message: str


@dataclass
class ErrorOutput:
    error: str


@plugin.step(
    id="greet",
    name="Greet",
    description="Says hello to someone",
    outputs={"success": GreetOutput, "error": ErrorOutput},
)
def greet(params: GreetInput) -> typing.Tuple[str, typing.Union[GreetOutput, ErrorOutput]]:
    if params.name.lower() == "nobody":
        return "error", ErrorOutput("there is nobody to greet")
    return "success", GreetOutput(f"{params.greeting}, {params.name}!")


@dataclass
class CountInput:
    text: typing.Annotated[str, schema.name("Text"), schema.description("The text to count")]


@dataclass
class CountOutput:
    words: int
    characters: int
    longest: typing.List[str] = field(default_factory=list)


@plugin.step(
    id="count",
    name="Count words",
    description="Counts the words and characters of a text",
    outputs={"success": CountOutput},
)
def count_words(params: CountInput) -> typing.Tuple[str, CountOutput]:
    words = params.text.split()
    top = max((len(w) for w in words), default=0)
    return "success", CountOutput(
        words=len(words),
        characters=len(params.text),
        longest=[w for w in words if len(w) == top],
    )
