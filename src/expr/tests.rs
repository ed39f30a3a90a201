//! Owns the table-driven and property tests of the expression language.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;

use super::ty::{ExprType, ObjectType};
use super::{EvalContext, Expr, ExprError};
use crate::value::{Key, Value};

// ---------------------------------------------------------------------------------------------
// Fixtures: the data `$` and its type.

fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

fn list(items: Vec<Value>) -> Value {
    Value::List(items)
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::map_from(entries)
}

fn root_value() -> Value {
    let input = map(vec![
        ("n", Value::Int(5)),
        ("neg", Value::Int(-3)),
        ("big", Value::Int(i64::MAX)),
        ("min", Value::Int(i64::MIN)),
        ("f", Value::Float(2.5)),
        ("s", s("hello")),
        ("b", Value::Bool(true)),
        ("list", list(vec![Value::Int(1), Value::Int(2), Value::Int(3)])),
        ("names", list(vec![s("a"), s("b"), s("c")])),
        ("empty_list", list(vec![])),
        ("i", Value::Int(1)),
        ("key", s("my-key")),
        ("dict", map(vec![("my-key", s("dash")), ("k", s("v"))])),
        ("imap", Value::Map(BTreeMap::from([(Key::Int(1), s("one")), (Key::Int(2), s("two"))]))),
        ("nested", map(vec![("a", map(vec![("b", list(vec![Value::Int(10), Value::Int(20)]))]))])),
        ("nothing", Value::Null),
        ("anything", map(vec![("x", Value::Int(1))])),
        ("choice", map(vec![("kind", s("A")), ("a", Value::Int(1))])),
        ("objs", list(vec![map(vec![("name", s("x"))])])),
    ]);
    let steps = map(vec![
        ("a", map(vec![("outputs", map(vec![("success", map(vec![("msg", s("hi")), ("length", Value::Int(2))]))]))])),
        ("my-step", map(vec![("outputs", map(vec![("success", map(vec![("msg", s("dashed"))]))]))])),
    ]);
    map(vec![("input", input), ("steps", steps)])
}

fn object(id: &str, fields: Vec<(&str, ExprType)>) -> ExprType {
    ExprType::Object(Arc::new(ObjectType {
        id: id.to_string(),
        fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }))
}

fn list_of(t: ExprType) -> ExprType {
    ExprType::List(Box::new(t))
}

fn root_type() -> ExprType {
    let input = object(
        "InputParams",
        vec![
            ("n", ExprType::Int),
            ("neg", ExprType::Int),
            ("big", ExprType::Int),
            ("min", ExprType::Int),
            ("f", ExprType::Float),
            ("s", ExprType::String),
            ("b", ExprType::Bool),
            ("list", list_of(ExprType::Int)),
            ("names", list_of(ExprType::String)),
            ("empty_list", list_of(ExprType::Int)),
            ("i", ExprType::Int),
            ("key", ExprType::String),
            ("dict", ExprType::Map(Box::new(ExprType::String), Box::new(ExprType::String))),
            ("imap", ExprType::Map(Box::new(ExprType::Int), Box::new(ExprType::String))),
            ("nested", object("Nested", vec![("a", object("Inner", vec![("b", list_of(ExprType::Int))]))])),
            ("nothing", ExprType::Null),
            ("anything", ExprType::Any),
            (
                "choice",
                ExprType::OneOf(vec![
                    object("ChoiceA", vec![("kind", ExprType::String), ("a", ExprType::Int)]),
                    object("ChoiceB", vec![("kind", ExprType::String), ("b", ExprType::Float)]),
                ]),
            ),
            ("objs", list_of(object("Item", vec![("name", ExprType::String)]))),
        ],
    );
    let echo = object("EchoOutput", vec![("msg", ExprType::String), ("length", ExprType::Int)]);
    let echo_error = object("EchoError", vec![("error", ExprType::String)]);
    let steps = object(
        "steps",
        vec![
            (
                "a",
                object(
                    "steps.a",
                    vec![("outputs", object("steps.a.outputs", vec![("success", echo), ("error", echo_error)]))],
                ),
            ),
            (
                "my-step",
                object(
                    "steps.my-step",
                    vec![(
                        "outputs",
                        object(
                            "steps.my-step.outputs",
                            vec![("success", object("Out", vec![("msg", ExprType::String)]))],
                        ),
                    )],
                ),
            ),
        ],
    );
    object("workflow", vec![("input", input), ("steps", steps)])
}

/// A directory with `data.txt`, shared by every test in this process.
fn context_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("arcaflow-expr-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("data.txt"), "file contents\n").unwrap();
        dir
    })
}

fn ctx() -> EvalContext<'static> {
    EvalContext { context_dir: context_dir() }
}

// ---------------------------------------------------------------------------------------------
// The table.

enum Want {
    /// Checks statically, evaluates to this value, and the value fits the static type.
    Val(Value),
    /// Parsing fails with a message containing this text.
    Parse(&'static str),
    /// The type check fails with this text, and evaluation fails too.
    Type(&'static str),
    /// The type check fails with this text, but the data happens to evaluate to this value.
    TypeButRuns(&'static str, Value),
    /// The type check passes, evaluation fails with this text.
    Eval(&'static str),
}

use Want::{Eval, Parse, Type, TypeButRuns, Val};

fn int(i: i64) -> Want {
    Val(Value::Int(i))
}
fn float(f: f64) -> Want {
    Val(Value::Float(f))
}
fn text(t: &str) -> Want {
    Val(s(t))
}
fn boolean(b: bool) -> Want {
    Val(Value::Bool(b))
}
fn strings(items: &[&str]) -> Want {
    Val(list(items.iter().map(|i| s(i)).collect()))
}

fn cases() -> Vec<(String, Want)> {
    let deep_parens = format!("{}1{}", "(".repeat(120), ")".repeat(120));
    let too_deep_calls = format!("{}1.0{}", "abs(".repeat(130), ")".repeat(130));
    let too_deep_parens = format!("{}1{}", "(".repeat(300), ")".repeat(300));
    let many_nots = format!("{}true", "!".repeat(255));
    let too_many_negations = format!("{}1", "-".repeat(300));
    let long_sum = vec!["1"; 300].join(" + ");
    let table: Vec<(&str, Want)> = vec![
        // --- literals and escapes
        ("5", int(5)),
        ("0", int(0)),
        ("9223372036854775807", int(i64::MAX)),
        ("9223372036854775808", Parse("at column 1: integer literal 9223372036854775808 does not fit in 64 bits")),
        ("007", Parse("integer literal 007 has a leading zero")),
        ("1.5", float(1.5)),
        ("1.", float(1.0)),
        ("00.5", float(0.5)),
        ("0.25e2", float(25.0)),
        ("1.5E-1", float(0.15)),
        ("2.0e+3", float(2000.0)),
        ("1.e", Parse("at column 3: malformed exponent in float literal")),
        ("1.0e999", Parse("float literal 1.0e999 is out of range")),
        ("1e3", Parse("at column 2: unexpected character 'e' after a number")),
        ("true", boolean(true)),
        ("false", boolean(false)),
        (r#""plain""#, text("plain")),
        ("'single'", text("single")),
        (r#""a\tb""#, text("a\tb")),
        (r#""l1\nl2\r""#, text("l1\nl2\r")),
        (r#""\b\0""#, text("\u{8}\0")),
        (r#""back\\slash""#, text("back\\slash")),
        (r#""say \"hi\"""#, text("say \"hi\"")),
        (r"'it\'s'", text("it's")),
        (r#"'mixed "quotes"'"#, text("mixed \"quotes\"")),
        (r#""it\'s""#, text("it's")),
        ("`raw \\n $.x`", text("raw \\n $.x")),
        ("'héllo wörld'", text("héllo wörld")),
        ("\"multi\nline\"", text("multi\nline")),
        (r#""bad \x escape""#, Parse("at column 6: unknown escape sequence '\\x' in string literal")),
        (r#""abc"#, Parse("at column 1: unterminated string literal")),
        ("'abc", Parse("at column 1: unterminated string literal")),
        ("`abc", Parse("at column 1: unterminated raw string literal")),
        (r#""trailing\"#, Parse("unterminated string literal")),
        // --- syntax errors
        ("$.input.", Parse("at column 9: expected an identifier after '.', found end of expression")),
        ("$.input.n)", Parse("at column 10: expected an operator or the end of the expression, found ')'")),
        (r#"$.input.s = "x""#, Parse("at column 11: unexpected '='; use '==' to compare")),
        ("1 +", Parse("at column 4: expected an expression, found end of expression")),
        ("", Parse("at column 1: expected an expression, found end of expression")),
        ("   ", Parse("at column 4: expected an expression")),
        ("foo($.input.n)", Parse("at column 1: unknown function 'foo'")),
        ("x", Parse("at column 1: unknown identifier 'x'; paths start with $")),
        ("$.input.n + input", Parse("at column 13: unknown identifier 'input'; paths start with $")),
        ("(1 + 2", Parse("at column 7: expected ')' to close the '(' from column 1, found end of expression")),
        ("$.input.list[0", Parse("at column 15: expected ']' to close the '[' from column 13")),
        ("5.5.a", Parse("at column 4: a literal cannot be followed by '.'")),
        (r#""a"[0]"#, Parse("a literal cannot be followed by '['")),
        ("5(1)", Parse("a literal cannot be followed by '('")),
        ("$.input(1)", Parse("at column 8: only built-in functions can be called")),
        ("@.a", Parse("'@' (current object) is not supported; paths start with $")),
        ("$ # 1", Parse("at column 3: unexpected character '#'")),
        ("1 & 2", Parse("use '&&' for logical and")),
        ("1 | 2", Parse("use '||' for logical or")),
        ("intToString(1,)", Parse("at column 15: expected an expression, found ')'")),
        ("intToString(1 2)", Parse("at column 15: expected ',' or ')' after an argument of intToString (called at column 1), found integer 2")),
        ("$..a", Parse("at column 3: expected an identifier after '.', found '.'")),
        ("$.5", Parse("at column 3: expected an identifier after '.', found integer 5")),
        ("$[]", Parse("at column 3: expected an expression, found ']'")),
        ("()", Parse("at column 2: expected an expression, found ')'")),
        ("1 2", Parse("found integer 2")),
        ("$.input.n !", Parse("at column 11: expected an operator or the end of the expression, found '!'")),
        ("$.input.n +* 2", Parse("at column 12: expected an expression, found '*'")),
        (too_deep_parens.as_str(), Parse("at column 129: expression is nested too deeply (more than 128 levels)")),
        (too_many_negations.as_str(), int(1)),
        (too_deep_calls.as_str(), Parse("nested too deeply")),
        (long_sum.as_str(), int(300)),
        (deep_parens.as_str(), int(1)),
        (many_nots.as_str(), boolean(false)),
        // --- integer arithmetic
        ("2 + 3", int(5)),
        ("2 - 3", int(-1)),
        ("2 * 3", int(6)),
        ("7 / 2", int(3)),
        ("-7 / 2", int(-3)),
        ("7 % 3", int(1)),
        ("-7 % 3", int(-1)),
        ("2 ^ 10", int(1024)),
        ("2 ^ 0", int(1)),
        ("0 ^ 0", int(1)),
        ("0 ^ 5", int(0)),
        ("2 ^ 62", int(1 << 62)),
        ("1 ^ 99999999999", int(1)),
        ("(-1) ^ 99999999999", int(-1)),
        ("1 / 0", Eval("integer division by zero (1 / 0) in '1 / 0'")),
        ("1 % 0", Eval("integer remainder by zero")),
        ("$.input.big + 1", Eval("integer overflow (9223372036854775807 + 1) in '$.input.big + 1'")),
        ("$.input.min - 1", Eval("integer overflow")),
        ("$.input.big * 2", Eval("integer overflow")),
        ("$.input.min / -1", Eval("integer overflow (-9223372036854775808 / -1)")),
        ("$.input.min % -1", int(0)),
        ("-$.input.min", Eval("integer overflow negating -9223372036854775808")),
        ("2 ^ 63", Eval("integer overflow (2 ^ 63)")),
        ("3 ^ 99999999999", Eval("integer overflow")),
        ("2 ^ -1", Eval("negative exponent in integer power (2 ^ -1)")),
        ("$.input.n * $.input.neg", int(-15)),
        // --- float arithmetic
        ("1.5 + 2.25", float(3.75)),
        ("1.5 - 2.0", float(-0.5)),
        ("1.5 * 2.0", float(3.0)),
        ("1.0 / 4.0", float(0.25)),
        ("7.5 % 2.0", float(1.5)),
        ("2.0 ^ 0.5", float(2f64.powf(0.5))),
        ("4.0 ^ 2.0", float(16.0)),
        ("1.0 / 0.0", float(f64::INFINITY)),
        ("-1.0 / 0.0", float(f64::NEG_INFINITY)),
        ("0.0 / 0.0", float(f64::NAN)),
        ("$.input.f * 2.0", float(5.0)),
        // --- strings
        (r#""a" + "b""#, text("ab")),
        (r#"$.input.s + " " + 'world'"#, text("hello world")),
        (r#""a" - "b""#, Type("operator '-' does not support string operands in '\"a\" - \"b\"'")),
        (r#""a" * "b""#, Type("operator '*' does not support string operands")),
        (r#""a" ^ "b""#, Type("operator '^' does not support string operands")),
        (r#""a" && "b""#, Type("operator '&&' does not support string operands")),
        // --- bools
        ("true && false", boolean(false)),
        ("true && true", boolean(true)),
        ("true || false", boolean(true)),
        ("false || false", boolean(false)),
        ("true + true", Type("operator '+' does not support bool operands")),
        ("true * false", Type("operator '*' does not support bool operands")),
        ("true < false", Type("operator '<' does not support bool operands")),
        ("1 && 2", Type("operator '&&' does not support integer operands")),
        ("1.0 || 2.0", Type("operator '||' does not support float operands")),
        // --- comparisons
        ("1 < 2", boolean(true)),
        ("2 <= 2", boolean(true)),
        ("3 > 4", boolean(false)),
        ("3 >= 4", boolean(false)),
        ("1 == 1", boolean(true)),
        ("1 != 1", boolean(false)),
        ("1.5 < 2.5", boolean(true)),
        ("1.5 == 1.5", boolean(true)),
        ("1.5 >= 1.6", boolean(false)),
        (r#""abc" < "abd""#, boolean(true)),
        (r#""b" > "abc""#, boolean(true)),
        (r#""a" == 'a'"#, boolean(true)),
        (r#""a" != "b""#, boolean(true)),
        ("true == true", boolean(true)),
        ("true != false", boolean(true)),
        ("0.0 / 0.0 == 0.0 / 0.0", boolean(false)),
        ("0.0 / 0.0 < 1.0", boolean(false)),
        ("1 < 2 == true", boolean(true)),
        ("1 < 2 < 3", Type("type mismatch: left is bool, right is integer")),
        // --- type mismatches (no coercion)
        ("1 + 1.0", Type("type mismatch: left is integer, right is float in '1 + 1.0'")),
        (r#""a" + 1"#, Type("type mismatch: left is string, right is integer")),
        (r#"1 == "1""#, Type("type mismatch: left is integer, right is string")),
        ("1 < 1.5", Type("type mismatch: left is integer, right is float")),
        ("true == 1", Type("type mismatch: left is bool, right is integer")),
        ("$.input.n + $.input.f", Type("type mismatch: left is integer, right is float in '$.input.n + $.input.f'")),
        ("$.input.list == $.input.list", TypeButRuns("operator '==' does not support list[integer] operands", Value::Bool(true))),
        ("$.input.dict != $.input.dict", TypeButRuns("does not support map[string, string] operands", Value::Bool(false))),
        ("$.input.anything == $.input.anything", boolean(true)),
        ("$.input.anything.x + 1", int(2)),
        ("$.input.anything + 1", Eval("type mismatch: left is map, right is integer")),
        ("$.input.anything.x + 1.5", Eval("type mismatch: left is integer, right is float")),
        // --- unary operators bind tightest
        ("-5", int(-5)),
        ("--5", int(5)),
        ("-5 + 3", int(-2)),
        ("- 5 * 2", int(-10)),
        ("-2 ^ 2", int(4)),
        ("-1 ^ 3", int(-1)),
        ("-(2 + 3)", int(-5)),
        ("-1.5", float(-1.5)),
        ("-$.input.neg", int(3)),
        ("!true && false", boolean(false)),
        ("!false", boolean(true)),
        ("!!true", boolean(true)),
        ("!(1 < 2)", boolean(false)),
        ("!true || true", boolean(true)),
        (r#"-"a""#, Type("operator '-' does not support string operands in '-\"a\"'")),
        ("!5", Type("operator '!' does not support integer operands")),
        ("-true", Type("operator '-' does not support bool operands")),
        ("!$.input.anything", Eval("operator '!' does not support map operands")),
        // --- precedence
        ("1 + 2 * 3", int(7)),
        ("(1 + 2) * 3", int(9)),
        ("2 * 3 ^ 2", int(18)),
        ("2 ^ 3 ^ 2", int(64)),
        ("10 - 4 - 3", int(3)),
        ("100 / 10 / 5", int(2)),
        ("1 + 2 * 3 - 4 / 2", int(5)),
        ("7 % 4 * 2", int(6)),
        ("1 + 2 == 3", boolean(true)),
        ("1 < 2 && 2 < 3", boolean(true)),
        ("true || false && false", boolean(true)),
        ("false && true || true", boolean(true)),
        ("(true || false) && false", boolean(false)),
        // --- paths, indexes and keys
        ("$.input.n", int(5)),
        ("$.input.s", text("hello")),
        ("$.input.list[0]", int(1)),
        ("$.input.list[2]", int(3)),
        ("$.input.list[-1]", int(3)),
        ("$.input.list[-3]", int(1)),
        ("$.input.list[1 + 1]", int(3)),
        ("$.input.list[$.input.i]", int(2)),
        ("$.input.list[-$.input.i]", int(3)),
        ("$.input.list[3]", Eval("index 3 is out of range for $.input.list (a list of length 3) in '$.input.list[3]'")),
        ("$.input.list[-4]", Eval("index -4 is out of range for $.input.list")),
        ("$.input.empty_list[0]", Eval("index 0 is out of range for $.input.empty_list (a list of length 0)")),
        ("$.input.list[$.input.min]", Eval("out of range")),
        (r#"$.input.list["a"]"#, Type("list index must be an integer, got string")),
        ("$.input.list[1.5]", Type("keys and indexes must be strings or integers, got float")),
        ("$.input.list[true]", Type("keys and indexes must be strings or integers, got bool")),
        ("$.input.list.x", Type("cannot read property \"x\" of list[integer]")),
        (r#"$.input.dict["my-key"]"#, text("dash")),
        ("$.input.dict['k']", text("v")),
        ("$.input.dict.k", text("v")),
        ("$.input.dict[$.input.key]", text("dash")),
        ("$.input.dict.nope", Eval(r#"$.input.dict has no key "nope"; available keys: k, my-key in '$.input.dict.nope'"#)),
        (r#"$.input.dict["no-pe"]"#, Eval(r#"has no key "no-pe"; available keys: k, my-key"#)),
        ("$.input.dict[1]", Type("map[string, string] needs string keys, got integer")),
        ("$.input.imap[1]", text("one")),
        ("$.input.imap[2]", text("two")),
        ("$.input.imap[3]", Eval("$.input.imap has no key 3; available keys: 1, 2")),
        (r#"$.input.imap["1"]"#, Type("map[integer, string] needs integer keys, got string")),
        ("$.input.imap.x", Type("cannot use .x on map[integer, string]: its keys are not strings")),
        ("$.input.nested.a.b[1]", int(20)),
        ("$.input.nested.a.b[-2]", int(10)),
        ("$.steps.a.outputs.success.msg", text("hi")),
        ("$.steps.a.outputs.success.length + 1", int(3)),
        (r#"$.steps["my-step"].outputs.success.msg"#, text("dashed")),
        (r#"$["steps"]["a"]["outputs"]["success"]["length"]"#, int(2)),
        ("$['input'].n", int(5)),
        (r#"$.input["n"]"#, int(5)),
        ("$.steps.a.outputs.error.error", Eval(r#"$.steps.a.outputs has no key "error"; available keys: success"#)),
        ("$.steps.nope", Type(r#"object steps does not have a property named "nope"; properties: a, my-step in '$.steps.nope'"#)),
        ("$.steps.nope.outputs.success.msg", Type(r#"object steps does not have a property named "nope"; properties: a, my-step in '$.steps.nope' (expression '$.steps.nope.outputs.success.msg')"#)),
        ("$.steps.a.outputs.success.nofield", Type(r#"object EchoOutput does not have a property named "nofield"; properties: length, msg"#)),
        ("$.steps.a.outputs.succes", Type(r#"object steps.a.outputs does not have a property named "succes"; properties: error, success"#)),
        (r#"$.steps["nope"]"#, Type(r#"object steps does not have a property named "nope""#)),
        ("$.input[1]", Type("object InputParams can only be indexed with a string, got integer")),
        ("$.input[$.input.key]", Eval(r#"$.input has no key "my-key""#)),
        ("$.input.n.x", Type("cannot read property \"x\" of integer")),
        ("$.input.n[0]", Type("cannot index integer")),
        ("$.input.nothing", Val(Value::Null)),
        ("$.input.nothing.x", Type("cannot read property \"x\" of null")),
        ("$.input.anything.x", int(1)),
        ("$.input.anything.y", Eval(r#"$.input.anything has no key "y"; available keys: x"#)),
        ("$.input.anything.x.y", Eval(r#"cannot read property "y": $.input.anything.x is an integer, not a map or object"#)),
        ("$.input.anything[0]", Eval("$.input.anything has no key 0; available keys: x")),
        ("$.input.anything.x[0]", Eval("cannot index $.input.anything.x: it is an integer, not a list or map")),
        ("$.input.anything[$.input.f]", Type("keys and indexes must be strings or integers, got float")),
        ("$.input.choice.kind", text("A")),
        ("$.input.choice.a", int(1)),
        ("$.input.choice['a']", int(1)),
        ("$.input.choice.b", Eval(r#"$.input.choice has no key "b""#)),
        ("$.input.choice.zzz", Type(r#"does not have a property named "zzz"; properties: a, b, kind"#)),
        ("$.input.objs[0].name", text("x")),
        ("($.input.list)[1]", int(2)),
        (r#"(splitString("a,b,c", ",")[1])"#, text("b")),
        // --- functions
        ("intToFloat(5)", float(5.0)),
        ("intToFloat(-2)", float(-2.0)),
        ("intToFloat(1.5)", Type("argument 1 of intToFloat must be integer, got float")),
        ("intToFloat()", Type("function intToFloat expects 1 argument (integer), got 0")),
        ("intToFloat(1, 2)", Type("function intToFloat expects 1 argument (integer), got 2")),
        ("intToFloat($.input.anything)", Eval("argument 1 of intToFloat must be integer, got map")),
        ("floatToInt(-1.9)", int(-1)),
        ("floatToInt(2.9)", int(2)),
        ("floatToInt(1.0 / 0.0)", int(i64::MAX)),
        ("floatToInt(-1.0 / 0.0)", int(i64::MIN)),
        ("floatToInt(1.0e300)", int(i64::MAX)),
        ("floatToInt(0.0 / 0.0)", Eval("cannot convert NaN to an integer")),
        ("floatToInt(1)", Type("argument 1 of floatToInt must be float, got integer")),
        ("intToString(42)", text("42")),
        ("intToString(-7)", text("-7")),
        ("intToString($.input.min)", text("-9223372036854775808")),
        (r#"intToString("a")"#, Type("argument 1 of intToString must be integer, got string")),
        ("floatToString(5000.5)", text("5000.5")),
        ("floatToString(2.0)", text("2")),
        ("floatToString(0.1)", text("0.1")),
        ("floatToString(1.0e21)", text("1000000000000000000000")),
        ("floatToString(0.000001)", text("0.000001")),
        ("floatToString(-0.0)", text("-0")),
        ("floatToString(1.0 / 0.0)", text("+Inf")),
        ("floatToString(-1.0 / 0.0)", text("-Inf")),
        ("floatToString(0.0 / 0.0)", text("NaN")),
        ("floatToString(1)", Type("argument 1 of floatToString must be float, got integer")),
        (r#"floatToFormattedString(3.14159, "f", 2)"#, text("3.14")),
        (r#"floatToFormattedString(3.14159, "e", 3)"#, text("3.142e+00")),
        (r#"floatToFormattedString(3.14159, "E", -1)"#, text("3.14159E+00")),
        (r#"floatToFormattedString(3.14159, "g", -1)"#, text("3.14159")),
        (r#"floatToFormattedString(3.14159, "g", 3)"#, text("3.14")),
        (r#"floatToFormattedString(1234567.0, "g", -1)"#, text("1.234567e+06")),
        (r#"floatToFormattedString(100000.0, "g", -1)"#, text("100000")),
        (r#"floatToFormattedString(1000000.0, "g", -1)"#, text("1e+06")),
        (r#"floatToFormattedString(0.0001, "g", -1)"#, text("0.0001")),
        (r#"floatToFormattedString(0.00001, "g", -1)"#, text("1e-05")),
        (r#"floatToFormattedString(100.0, "G", 2)"#, text("1E+02")),
        (r#"floatToFormattedString(-2.5, "g", 2)"#, text("-2.5")),
        (r#"floatToFormattedString(123456.0, "e", -1)"#, text("1.23456e+05")),
        (r#"floatToFormattedString(0.0, "e", 2)"#, text("0.00e+00")),
        (r#"floatToFormattedString(2.5, "f", 0)"#, text("2")),
        (r#"floatToFormattedString(3.5, "f", 0)"#, text("4")),
        (r#"floatToFormattedString(1.0, "f", -1)"#, text("1")),
        (r#"floatToFormattedString(1.0, "b", -1)"#, text("4503599627370496p-52")),
        (r#"floatToFormattedString(1.0, "x", -1)"#, text("0x1p+00")),
        (r#"floatToFormattedString(3.0, "x", -1)"#, text("0x1.8p+01")),
        (r#"floatToFormattedString(1.0, "X", 3)"#, text("0X1.000P+00")),
        (r#"floatToFormattedString(1.5, "x", 0)"#, text("0x1p+01")),
        (r#"floatToFormattedString(1.0 / 0.0, "f", 2)"#, text("+Inf")),
        // The following were checked against Go's strconv.FormatFloat.
        (r#"floatToFormattedString(5.0e-324, "x", 3)"#, text("0x1.000p-1074")),
        (r#"floatToFormattedString(5.0e-324, "b", -1)"#, text("1p-1074")),
        (r#"floatToFormattedString(5.0e-324, "g", 17)"#, text("4.9406564584124654e-324")),
        (r#"floatToFormattedString(1.7976931348623157e308, "X", 3)"#, text("0X1.000P+1024")),
        (r#"floatToFormattedString(1.7976931348623157e308, "g", 3)"#, text("1.8e+308")),
        (r#"floatToFormattedString(1.0 / 3.0, "f", 17)"#, text("0.33333333333333331")),
        (r#"floatToFormattedString(1.0 / 3.0, "e", 17)"#, text("3.33333333333333315e-01")),
        (r#"floatToFormattedString(-1.0 / 3.0, "G", -1)"#, text("-0.3333333333333333")),
        (r#"floatToFormattedString(1.0, "z", 2)"#, Eval(r#"unknown float format "z"; expected one of b, e, E, f, g, G, x, X"#)),
        (r#"floatToFormattedString(1.0, "ff", 2)"#, Eval("unknown float format \"ff\"")),
        (r#"floatToFormattedString(1.0, "f", 1001)"#, Eval("precision 1001 is too large")),
        (r#"floatToFormattedString(1.0, "f")"#, Type("function floatToFormattedString expects 3 arguments (float, string, integer), got 2")),
        (r#"floatToFormattedString(1, "f", 2)"#, Type("argument 1 of floatToFormattedString must be float, got integer")),
        ("floatToFormattedString(1.0, 1, 2)", Type("argument 2 of floatToFormattedString must be string, got integer")),
        ("boolToString(true)", text("true")),
        ("boolToString(1 > 2)", text("false")),
        ("boolToString(1)", Type("argument 1 of boolToString must be bool, got integer")),
        (r#"stringToInt("42")"#, int(42)),
        (r#"stringToInt("-17")"#, int(-17)),
        (r#"stringToInt("007")"#, int(7)),
        (r#"stringToInt("+5")"#, Eval(r#""+5" is not an integer"#)),
        (r#"stringToInt("1.5")"#, Eval("is not an integer")),
        (r#"stringToInt("")"#, Eval(r#""" is not an integer"#)),
        (r#"stringToInt("-")"#, Eval("is not an integer")),
        (r#"stringToInt("99999999999999999999")"#, Eval("is out of the 64-bit integer range")),
        ("stringToInt(5)", Type("argument 1 of stringToInt must be string, got integer")),
        (r#"stringToFloat("1e3")"#, float(1000.0)),
        (r#"stringToFloat("1.5")"#, float(1.5)),
        (r#"stringToFloat("-0.25")"#, float(-0.25)),
        (r#"stringToFloat(".5")"#, float(0.5)),
        (r#"stringToFloat("5.")"#, float(5.0)),
        (r#"stringToFloat("+2E-2")"#, float(0.02)),
        (r#"stringToFloat("inf")"#, float(f64::INFINITY)),
        (r#"stringToFloat("-Infinity")"#, float(f64::NEG_INFINITY)),
        (r#"stringToFloat("NaN")"#, float(f64::NAN)),
        (r#"stringToFloat("0x1.8p1")"#, float(3.0)),
        (r#"stringToFloat("0x10p-4")"#, float(1.0)),
        (r#"stringToFloat("1_000.5")"#, float(1000.5)),
        (r#"stringToFloat("1__0")"#, Eval("is not a valid float")),
        (r#"stringToFloat("abc")"#, Eval(r#""abc" is not a valid float"#)),
        (r#"stringToFloat("1e400")"#, Eval(r#""1e400" is out of the float range"#)),
        (r#"stringToFloat("")"#, Eval("is not a valid float")),
        (r#"stringToFloat(" 1")"#, Eval("is not a valid float")),
        (r#"stringToFloat("0x10")"#, Eval("is not a valid float")),
        (r#"stringToFloat("+nan")"#, Eval("is not a valid float")),
        ("stringToFloat(1.0)", Type("argument 1 of stringToFloat must be string, got float")),
        (r#"stringToBool("true")"#, boolean(true)),
        (r#"stringToBool("TRUE")"#, boolean(true)),
        (r#"stringToBool("t")"#, boolean(true)),
        (r#"stringToBool("1")"#, boolean(true)),
        (r#"stringToBool("False")"#, boolean(false)),
        (r#"stringToBool("f")"#, boolean(false)),
        (r#"stringToBool("0")"#, boolean(false)),
        (r#"stringToBool("yes")"#, Eval(r#""yes" is not a bool"#)),
        ("stringToBool(true)", Type("argument 1 of stringToBool must be string, got bool")),
        ("ceil(1.2)", float(2.0)),
        ("ceil(-1.2)", float(-1.0)),
        ("floor(-1.5)", float(-2.0)),
        ("floor(1.5)", float(1.0)),
        ("round(2.5)", float(3.0)),
        ("round(-2.5)", float(-3.0)),
        ("round(2.4)", float(2.0)),
        ("abs(-3.5)", float(3.5)),
        ("abs(2.0)", float(2.0)),
        ("ceil(1)", Type("argument 1 of ceil must be float, got integer")),
        ("floor(true)", Type("argument 1 of floor must be float, got bool")),
        ("round()", Type("function round expects 1 argument")),
        ("abs(-3)", Type("argument 1 of abs must be float, got integer")),
        (r#"toLower("HeLLo")"#, text("hello")),
        (r#"toUpper("abc")"#, text("ABC")),
        (r#"toUpper("straße")"#, text("STRASSE")),
        ("toLower(1)", Type("argument 1 of toLower must be string, got integer")),
        ("toUpper($.input.list)", Type("argument 1 of toUpper must be string, got list[integer]")),
        (r#"splitString("a,b,c", ",")"#, strings(&["a", "b", "c"])),
        (r#"splitString("abc", "")"#, strings(&["a", "b", "c"])),
        (r#"splitString("", ",")"#, strings(&[""])),
        (r#"splitString("a--b", "--")"#, strings(&["a", "b"])),
        (r#"splitString("a,b,c", ",")[-1]"#, text("c")),
        (r#"splitString("a")"#, Type("function splitString expects 2 arguments (string, string), got 1")),
        (r#"readFile("data.txt")"#, text("file contents\n")),
        (r#"readFile("missing.txt")"#, Eval("cannot read file")),
        ("readFile(1)", Type("argument 1 of readFile must be string, got integer")),
        (r#"getEnvVar("ARCAFLOW_EXPR_TEST_SURELY_UNSET", "dflt")"#, text("dflt")),
        (r#"getEnvVar("", "d")"#, text("d")),
        (r#"getEnvVar("A=B", "d")"#, text("d")),
        (r#"getEnvVar("X")"#, Type("function getEnvVar expects 2 arguments")),
        (
            r#"bindConstants($.input.names, "k")"#,
            Val(list(
                ["a", "b", "c"]
                    .iter()
                    .map(|i| map(vec![("item", s(i)), ("constant", s("k"))]))
                    .collect(),
            )),
        ),
        (
            "bindConstants($.input.list, $.input.dict)[1].constant['my-key']",
            text("dash"),
        ),
        ("bindConstants($.input.objs, 1)[0].item.name", text("x")),
        ("bindConstants($.input.empty_list, 1)", Val(list(vec![]))),
        (r#"bindConstants("a", 1)"#, Type("argument 1 of bindConstants must be list, got string")),
        ("bindConstants($.input.names)", Type("function bindConstants expects 2 arguments (list, any), got 1")),
        ("bindConstants($.input.anything, 1)", Eval("argument 1 of bindConstants must be list, got map")),
        // --- nesting functions and operators
        ("intToString(floatToInt(round(2.5)))", text("3")),
        (r#"toUpper(splitString("a,b", ",")[0])"#, text("A")),
        ("stringToInt(intToString($.input.n)) + 1", int(6)),
        ("floatToInt(intToFloat($.input.n) * 1.5)", int(7)),
        ("-abs(-2.0)", float(-2.0)),
    ];
    table.into_iter().map(|(src, want)| (src.to_string(), want)).collect()
}

/// Like `==`, except NaN equals NaN so tables can expect it.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::List(xs), Value::List(ys)) => xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y)),
        (Value::Map(xs), Value::Map(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|((kx, x), (ky, y))| kx == ky && same(x, y))
        }
        _ => a == b,
    }
}

/// Whether `v` is a value of static type `t`.
fn conforms(v: &Value, t: &ExprType) -> bool {
    match (t, v) {
        (ExprType::Any, _) => true,
        (ExprType::Null, Value::Null)
        | (ExprType::Bool, Value::Bool(_))
        | (ExprType::Int, Value::Int(_))
        | (ExprType::Float, Value::Float(_))
        | (ExprType::String, Value::String(_)) => true,
        (ExprType::List(item), Value::List(items)) => items.iter().all(|i| conforms(i, item)),
        (ExprType::Map(kt, vt), Value::Map(m)) => m.iter().all(|(k, v)| {
            let key_ok = matches!(
                (&**kt, k),
                (ExprType::Any, _) | (ExprType::Int, Key::Int(_)) | (ExprType::String, Key::Str(_))
            );
            key_ok && conforms(v, vt)
        }),
        (ExprType::Object(o), Value::Map(m)) => m.iter().all(|(k, v)| match k {
            Key::Str(name) => o.fields.get(name).is_some_and(|ft| conforms(v, ft)),
            Key::Int(_) => false,
        }),
        (ExprType::OneOf(members), v) => members.iter().any(|m| conforms(v, m)),
        _ => false,
    }
}

fn run_case(src: &str, want: &Want) -> Result<(), String> {
    let data = root_value();
    let types = root_type();
    let expr = match (Expr::parse(src), want) {
        (Err(e), Parse(part)) => {
            let msg = e.to_string();
            return if matches!(e, ExprError::Parse { .. }) && msg.contains(part) {
                Ok(())
            } else {
                Err(format!("parse error {msg:?} does not contain {part:?}"))
            };
        }
        (Err(e), _) => return Err(format!("unexpected parse error: {e}")),
        (Ok(_), Parse(part)) => return Err(format!("parsed, but expected a parse error containing {part:?}")),
        (Ok(expr), _) => expr,
    };
    if expr.source() != src {
        return Err(format!("source() returned {:?}", expr.source()));
    }
    let checked = expr.check(&types);
    let evaluated = expr.evaluate(&data, &ctx());
    match want {
        Parse(_) => unreachable!("handled above"),
        Val(value) => {
            let ty = checked.map_err(|e| format!("unexpected type error: {e}"))?;
            let got = evaluated.map_err(|e| format!("unexpected evaluation error: {e}"))?;
            if !same(&got, value) {
                return Err(format!("evaluated to {got:?}, expected {value:?}"));
            }
            if !conforms(&got, &ty) {
                return Err(format!("value {got:?} does not fit the static type {ty}"));
            }
            Ok(())
        }
        Type(part) | TypeButRuns(part, _) => {
            match checked {
                Err(e @ ExprError::Type { .. }) if e.to_string().contains(part) => {}
                Err(e) => return Err(format!("type error {:?} does not contain {part:?}", e.to_string())),
                Ok(t) => return Err(format!("checked as {t}, expected a type error containing {part:?}")),
            }
            match (want, evaluated) {
                (Type(_), Err(ExprError::Eval { .. })) => Ok(()),
                (TypeButRuns(_, value), Ok(got)) if same(&got, value) => Ok(()),
                (_, other) => Err(format!("unexpected evaluation result {other:?}")),
            }
        }
        Eval(part) => {
            checked.map_err(|e| format!("unexpected type error: {e}"))?;
            match evaluated {
                Err(e @ ExprError::Eval { .. }) if e.to_string().contains(part) => Ok(()),
                Err(e) => Err(format!("evaluation error {:?} does not contain {part:?}", e.to_string())),
                Ok(v) => Err(format!("evaluated to {v:?}, expected an error containing {part:?}")),
            }
        }
    }
}

#[test]
fn table() {
    let cases = cases();
    assert!(cases.len() >= 150, "the table has only {} cases", cases.len());
    let failures: Vec<String> =
        cases.iter().filter_map(|(src, want)| run_case(src, want).err().map(|e| format!("{src:?}: {e}"))).collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Dependencies, static types and messages.

#[test]
fn dependencies() {
    let table: Vec<(&str, Vec<Vec<&str>>)> = vec![
        ("$.steps.a.outputs.success.msg", vec![vec!["steps", "a", "outputs", "success", "msg"]]),
        (r#"$.steps["my-step"].outputs"#, vec![vec!["steps", "my-step", "outputs"]]),
        ("$.input.list[$.input.i]", vec![vec!["input", "list"], vec!["input", "i"]]),
        ("$", vec![vec![]]),
        ("1 + 2", vec![]),
        ("$.input.list[0].x", vec![vec!["input", "list"]]),
        ("$.input.list[-1]", vec![vec!["input", "list"]]),
        ("intToString($.input.n) + $.input.s", vec![vec!["input", "n"], vec!["input", "s"]]),
        ("$.input.n + $.input.n", vec![vec!["input", "n"]]),
        (
            "bindConstants($.input.names, $.steps.a.outputs)",
            vec![vec!["input", "names"], vec!["steps", "a", "outputs"]],
        ),
        ("-$.input.n", vec![vec!["input", "n"]]),
        ("($.input.dict)['k']", vec![vec!["input", "dict"]]),
        (r#"$["input"]["dict"]['my-key']"#, vec![vec!["input", "dict", "my-key"]]),
        ("$.input.dict[$.input.key].x", vec![vec!["input", "dict"], vec!["input", "key"]]),
        ("$.a[1]['b'].c", vec![vec!["a"]]),
        (r#"splitString($.input.s, ",")[0]"#, vec![vec!["input", "s"]]),
        ("$.input.true", vec![vec!["input", "true"]]),
        ("$.a[$.b[$.c]]", vec![vec!["a"], vec!["b"], vec!["c"]]),
    ];
    for (src, want) in table {
        let expr = Expr::parse(src).unwrap();
        let want: Vec<Vec<String>> = want.iter().map(|p| p.iter().map(|s| s.to_string()).collect()).collect();
        assert_eq!(expr.dependencies(), want, "dependencies of {src}");
    }
}

#[test]
fn static_types() {
    let types = root_type();
    let table: Vec<(&str, ExprType)> = vec![
        ("$.input.n + 1", ExprType::Int),
        ("$.input.anything", ExprType::Any),
        ("$.input.anything.x.y", ExprType::Any),
        ("$.input.anything + 1", ExprType::Int),
        ("$.input.anything + $.input.anything", ExprType::Any),
        ("$.input.anything == 1", ExprType::Bool),
        ("-$.input.anything", ExprType::Any),
        ("$.input.choice.kind", ExprType::String),
        ("$.input.choice.b", ExprType::Float),
        ("$.input[$.input.key]", ExprType::Any),
        (r#"splitString("a", "")"#, list_of(ExprType::String)),
        ("$.input.imap[1]", ExprType::String),
        (
            r#"bindConstants($.input.names, "k")"#,
            list_of(object("string__string", vec![("item", ExprType::String), ("constant", ExprType::String)])),
        ),
        (
            "bindConstants($.input.objs, $.input.nested)",
            list_of(object(
                "Item__Nested",
                vec![
                    ("item", object("Item", vec![("name", ExprType::String)])),
                    ("constant", object("Nested", vec![("a", object("Inner", vec![("b", list_of(ExprType::Int))]))])),
                ],
            )),
        ),
        (
            "bindConstants($.input.anything, 1)",
            list_of(object("any__integer", vec![("item", ExprType::Any), ("constant", ExprType::Int)])),
        ),
    ];
    for (src, want) in table {
        let got = Expr::parse(src).unwrap().check(&types).unwrap();
        assert_eq!(got, want, "type of {src}");
    }
    // Against an unknown root every path is `any`, and operators still type their results.
    assert_eq!(Expr::parse("$.x.y[0]").unwrap().check(&ExprType::Any).unwrap(), ExprType::Any);
    assert_eq!(Expr::parse("$.x < $.y").unwrap().check(&ExprType::Any).unwrap(), ExprType::Bool);
}

#[test]
fn one_of_members_with_different_field_types_give_a_one_of_or_any() {
    let a = object("A", vec![("v", object("VA", vec![])), ("w", ExprType::Int)]);
    let b = object("B", vec![("v", object("VB", vec![])), ("w", ExprType::String)]);
    let root = object("root", vec![("x", ExprType::OneOf(vec![a, b]))]);
    let v = Expr::parse("$.x.v").unwrap().check(&root).unwrap();
    assert_eq!(v, ExprType::OneOf(vec![object("VA", vec![]), object("VB", vec![])]));
    assert_eq!(Expr::parse("$.x.w").unwrap().check(&root).unwrap(), ExprType::Any);
}

#[test]
fn messages_are_complete() {
    let err = Expr::parse("$.input.").unwrap_err();
    assert_eq!(
        err.to_string(),
        "syntax error at column 9: expected an identifier after '.', found end of expression (in '$.input.')"
    );
    assert!(matches!(err, ExprError::Parse { column: 9, .. }));

    let err = Expr::parse("1 + 1.0").unwrap().check(&ExprType::Any).unwrap_err();
    assert_eq!(err.to_string(), "type mismatch: left is integer, right is float in '1 + 1.0'");

    let err = Expr::parse("$.n + (1 + 1.0)").unwrap().check(&ExprType::Any).unwrap_err();
    assert_eq!(
        err.to_string(),
        "type mismatch: left is integer, right is float in '1 + 1.0' (expression '$.n + (1 + 1.0)')"
    );

    // Columns count characters, not bytes.
    let err = Expr::parse("'é' + é").unwrap_err();
    assert!(matches!(err, ExprError::Parse { column: 7, .. }), "{err:?}");
}

#[test]
fn read_file_resolves_against_the_context_dir_not_the_cwd() {
    let expr = Expr::parse(r#"readFile("data.txt")"#).unwrap();
    let elsewhere = EvalContext { context_dir: Path::new("/nonexistent-arcaflow-dir") };
    let err = expr.evaluate(&Value::Null, &elsewhere).unwrap_err();
    assert!(err.to_string().contains("/nonexistent-arcaflow-dir/data.txt"), "{err}");

    let absolute = context_dir().join("data.txt");
    let src = format!("readFile('{}')", absolute.display());
    let value = Expr::parse(&src).unwrap().evaluate(&Value::Null, &elsewhere).unwrap();
    assert_eq!(value, s("file contents\n"));
}

#[test]
fn get_env_var_reads_the_environment() {
    let Some((name, value)) = std::env::vars().find(|(k, _)| k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    else {
        return;
    };
    let src = format!("getEnvVar('{name}', 'unused')");
    let got = Expr::parse(&src).unwrap().evaluate(&Value::Null, &ctx()).unwrap();
    assert_eq!(got, s(&value));
}

#[test]
fn paths_on_non_map_roots_fail_cleanly() {
    let expr = Expr::parse("$.input.n").unwrap();
    let err = expr.evaluate(&Value::Null, &ctx()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read property \"input\": $ is a null, not a map or object in '$.input' (expression '$.input.n')"
    );
}

#[test]
fn huge_maps_list_only_some_keys() {
    let big = Value::Map((0..100).map(|i| (Key::Int(i), Value::Int(i))).collect());
    let root = map(vec![("m", big)]);
    let err = Expr::parse("$.m[500]").unwrap().evaluate(&root, &ctx()).unwrap_err().to_string();
    assert!(err.contains("available keys: 0, 1, 2") && err.contains("… (80 more)"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Robustness: nothing panics or overflows the stack.

/// Runs every entry point on `src`; with a typed root, also checks that values fit their types.
fn exercise(src: &str) {
    let Ok(expr) = Expr::parse(src) else { return };
    let _ = expr.dependencies();
    let data = root_value();
    let types = root_type();
    let checked = expr.check(&types);
    let _ = expr.check(&ExprType::Any);
    let _ = expr.evaluate(&Value::Null, &ctx()).map_err(|e| e.to_string());
    if let (Ok(ty), Ok(value)) = (checked, expr.evaluate(&data, &ctx())) {
        assert!(conforms(&value, &ty), "{src}: {value:?} does not fit {ty}");
    }
}

#[test]
fn extreme_nesting_is_an_error_not_a_crash() {
    let n = 100_000;
    let nested = [
        "(".repeat(n),
        format!("{}1{}", "(".repeat(n), ")".repeat(n)),
        format!("{}1{}", "abs(".repeat(n), ")".repeat(n)),
        format!("{}1{}", "$[".repeat(n), "]".repeat(n)),
        format!("{}1", "-(".repeat(n)),
        "[".repeat(n),
    ];
    for src in &nested {
        let err = Expr::parse(src).unwrap_err();
        assert!(err.to_string().contains("nested too deeply") || src.starts_with('['), "{err}");
    }
}

#[test]
fn long_flat_sequences_are_not_nesting() {
    let n = 100_000;
    let flat: [(String, Value); 4] = [
        (format!("1{}", " + 1".repeat(n)), Value::Int(100_001)),
        (format!("{}true", "!".repeat(n)), Value::Bool(true)),
        (format!("{}1", "-".repeat(n + 1)), Value::Int(-1)),
        (format!("''{}", " + 'a'".repeat(1000)), s(&"a".repeat(1000))),
    ];
    for (src, want) in &flat {
        let expr = Expr::parse(src).unwrap();
        expr.check(&root_type()).unwrap();
        assert_eq!(&expr.evaluate(&root_value(), &ctx()).unwrap(), want);
    }
    let many = Expr::parse(&vec!["$.a.b"; n].join(" + ")).unwrap();
    assert_eq!(many.dependencies(), vec![vec!["a".to_string(), "b".to_string()]]);
    let path = format!("${}", ".a".repeat(n));
    let expr = Expr::parse(&path).unwrap();
    assert_eq!(expr.dependencies()[0].len(), n);
    assert_eq!(expr.check(&ExprType::Any).unwrap(), ExprType::Any);
    assert!(expr.evaluate(&root_value(), &ctx()).is_err());
}

/// The deepest expressions allowed must fit comfortably in a 2 MiB thread (Rust's default for
/// spawned threads and tokio workers) even unoptimised; they need about 640 KiB there.
#[test]
fn the_deepest_allowed_expressions_run_on_a_small_stack() {
    let depth = super::MAX_NESTING - 1;
    let inputs = [
        format!("{}1.0{}", "abs(".repeat(depth), ")".repeat(depth)),
        format!("{}1{}", "(".repeat(depth - 1), ")".repeat(depth - 1)),
        (0..depth / 2).fold("0".to_string(), |inner, _| format!("$.input.list[{inner}] - 1")),
        (0..depth / 4).fold("1".to_string(), |inner, _| format!("-($.input.list[{inner}] * 2 + 1)")),
    ];
    let worker = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            for src in &inputs {
                let expr = Expr::parse(src).unwrap_or_else(|e| panic!("{e}"));
                expr.check(&root_type()).unwrap();
                let _ = expr.evaluate(&root_value(), &ctx());
                drop(expr);
            }
        })
        .unwrap();
    worker.join().unwrap();
}

/// Small well-formed expressions, so the property tests reach the checker and evaluator often.
fn expression() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "$",
        "$.input",
        "$.input.n",
        "$.input.neg",
        "$.input.big",
        "$.input.min",
        "$.input.f",
        "$.input.s",
        "$.input.b",
        "$.input.list",
        "$.input.names",
        "$.input.dict",
        "$.input.imap",
        "$.input.anything",
        "$.input.choice",
        "$.input.nothing",
        "$.steps.a.outputs.success",
        "0",
        "1",
        "2",
        "63",
        "1.5",
        "0.0",
        "\"x\"",
        "''",
        "true",
        "false",
        "\"my-key\"",
    ])
    .prop_map(str::to_string);
    atoms.prop_recursive(4, 48, 3, |inner| {
        let ops =
            prop::sample::select(vec!["+", "-", "*", "/", "%", "^", "==", "!=", "<", ">", "<=", ">=", "&&", "||"]);
        let funcs = prop::sample::select(vec![
            "intToFloat",
            "floatToInt",
            "intToString",
            "floatToString",
            "boolToString",
            "stringToInt",
            "stringToFloat",
            "stringToBool",
            "ceil",
            "floor",
            "round",
            "abs",
            "toLower",
            "toUpper",
            "splitString",
            "getEnvVar",
            "bindConstants",
            "floatToFormattedString",
        ]);
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(l, op, r)| format!("{l} {op} {r}")),
            inner.clone().prop_map(|e| format!("-{e}")),
            inner.clone().prop_map(|e| format!("!({e})")),
            inner.clone().prop_map(|e| format!("({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, k)| format!("({a})[{k}]")),
            (inner.clone(), prop::sample::select(vec!["x", "n", "a", "success", "msg"]))
                .prop_map(|(a, f)| format!("({a}).{f}")),
            (funcs, prop::collection::vec(inner, 0..4)).prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases_or(1500), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,60}") {
        exercise(&src);
    }

    #[test]
    fn token_soup_never_panics(src in "[$.()\\[\\]!\\-+*/%^<>=&|\"'`0-9a-z_, \\\\]{0,48}") {
        exercise(&src);
    }

    #[test]
    fn generated_expressions_never_panic_and_fit_their_types(src in expression()) {
        prop_assert!(Expr::parse(&src).is_ok(), "{} did not parse", src);
        exercise(&src);
    }
}

fn eval_with(src: &str, bindings: Vec<(&str, Value)>) -> Result<Value, ExprError> {
    Expr::parse(src).unwrap().evaluate(&map(bindings), &ctx())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases_or(500), ..ProptestConfig::default() })]

    /// Integer operators agree with exact 128-bit arithmetic, and fail exactly when that result
    /// does not fit in i64 or the divisor is zero.
    #[test]
    fn integer_arithmetic_is_exact_or_an_error(
        a in prop_oneof![any::<i64>(), -5i64..5],
        b in prop_oneof![any::<i64>(), -5i64..5],
        op in prop::sample::select(vec!["+", "-", "*", "/", "%"]),
    ) {
        let (wa, wb) = (i128::from(a), i128::from(b));
        let exact = match op {
            "+" => Some(wa + wb),
            "-" => Some(wa - wb),
            "*" => Some(wa * wb),
            "/" => (b != 0).then(|| wa / wb),
            _ => (b != 0).then(|| wa % wb),
        }
        .and_then(|r| i64::try_from(r).ok());
        let got = eval_with(&format!("$.a {op} $.b"), vec![("a", Value::Int(a)), ("b", Value::Int(b))]);
        match (exact, got) {
            (Some(want), Ok(Value::Int(v))) => prop_assert_eq!(v, want),
            (None, Err(ExprError::Eval { .. })) => {}
            (want, got) => prop_assert!(false, "{} {} {}: wanted {:?}, got {:?}", a, op, b, want, got),
        }
    }

    /// The shortest forms round-trip through `stringToFloat`.
    #[test]
    fn shortest_float_strings_round_trip(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        for src in ["stringToFloat(floatToString($.x))", "stringToFloat(floatToFormattedString($.x, 'g', -1))",
                    "stringToFloat(floatToFormattedString($.x, 'x', -1))"] {
            let got = eval_with(src, vec![("x", Value::Float(x))]);
            prop_assert_eq!(got, Ok(Value::Float(x)), "{}", src);
        }
    }
}

/// PROPTEST_CASES overrides the case count, for long local runs (RELIABILITY.md).
fn cases_or(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
