//! Owns the 19 built-in functions: their signatures (for the type checker) and their behaviour.

use std::collections::BTreeMap;
use std::path::Path;

use super::gostrconv;
use super::ty::ExprType;
use super::EvalContext;
use crate::value::{Key, Value};

/// The largest precision `floatToFormattedString` accepts; more digits than this carry no
/// information for an f64 and would only let an expression allocate without bound.
const MAX_PRECISION: i64 = 1000;

/// What a parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    Int,
    Float,
    String,
    Bool,
    List,
    Anything,
}

impl Param {
    fn name(self) -> &'static str {
        match self {
            Param::Int => "integer",
            Param::Float => "float",
            Param::String => "string",
            Param::Bool => "bool",
            Param::List => "list",
            Param::Anything => "any",
        }
    }

    fn accepts_type(self, t: &ExprType) -> bool {
        matches!(
            (self, t),
            (Param::Anything, _)
                | (_, ExprType::Any)
                | (Param::Int, ExprType::Int)
                | (Param::Float, ExprType::Float)
                | (Param::String, ExprType::String)
                | (Param::Bool, ExprType::Bool)
                | (Param::List, ExprType::List(_))
        )
    }

    fn accepts_value(self, v: &Value) -> bool {
        matches!(
            (self, v),
            (Param::Anything, _)
                | (Param::Int, Value::Int(_))
                | (Param::Float, Value::Float(_))
                | (Param::String, Value::String(_))
                | (Param::Bool, Value::Bool(_))
                | (Param::List, Value::List(_))
        )
    }
}

type Run = fn(&[Value], &EvalContext) -> Result<Value, String>;

/// A built-in function. `returns` maps already validated argument types to the result type.
pub(crate) struct Builtin {
    pub name: &'static str,
    params: &'static [Param],
    returns: fn(&[ExprType]) -> ExprType,
    run: Run,
}

static BUILTINS: [Builtin; 19] = [
    Builtin { name: "intToFloat", params: &[Param::Int], returns: |_| ExprType::Float, run: int_to_float },
    Builtin { name: "floatToInt", params: &[Param::Float], returns: |_| ExprType::Int, run: float_to_int },
    Builtin { name: "intToString", params: &[Param::Int], returns: |_| ExprType::String, run: int_to_string },
    Builtin { name: "floatToString", params: &[Param::Float], returns: |_| ExprType::String, run: float_to_string },
    Builtin {
        name: "floatToFormattedString",
        params: &[Param::Float, Param::String, Param::Int],
        returns: |_| ExprType::String,
        run: float_to_formatted_string,
    },
    Builtin { name: "boolToString", params: &[Param::Bool], returns: |_| ExprType::String, run: bool_to_string },
    Builtin { name: "stringToInt", params: &[Param::String], returns: |_| ExprType::Int, run: string_to_int },
    Builtin { name: "stringToFloat", params: &[Param::String], returns: |_| ExprType::Float, run: string_to_float },
    Builtin { name: "stringToBool", params: &[Param::String], returns: |_| ExprType::Bool, run: string_to_bool },
    Builtin { name: "ceil", params: &[Param::Float], returns: |_| ExprType::Float, run: |a, _| float_op(a, f64::ceil) },
    Builtin {
        name: "floor",
        params: &[Param::Float],
        returns: |_| ExprType::Float,
        run: |a, _| float_op(a, f64::floor),
    },
    // f64::round already rounds half away from zero, like Go's math.Round.
    Builtin {
        name: "round",
        params: &[Param::Float],
        returns: |_| ExprType::Float,
        run: |a, _| float_op(a, f64::round),
    },
    Builtin { name: "abs", params: &[Param::Float], returns: |_| ExprType::Float, run: |a, _| float_op(a, f64::abs) },
    Builtin {
        name: "toLower",
        params: &[Param::String],
        returns: |_| ExprType::String,
        run: |a, _| Ok(Value::String(string_arg(a, 0)?.to_lowercase())),
    },
    Builtin {
        name: "toUpper",
        params: &[Param::String],
        returns: |_| ExprType::String,
        run: |a, _| Ok(Value::String(string_arg(a, 0)?.to_uppercase())),
    },
    Builtin {
        name: "splitString",
        params: &[Param::String, Param::String],
        returns: |_| ExprType::List(Box::new(ExprType::String)),
        run: split_string,
    },
    Builtin { name: "readFile", params: &[Param::String], returns: |_| ExprType::String, run: read_file },
    Builtin {
        name: "getEnvVar",
        params: &[Param::String, Param::String],
        returns: |_| ExprType::String,
        run: get_env_var,
    },
    Builtin {
        name: "bindConstants",
        params: &[Param::List, Param::Anything],
        returns: bind_constants_type,
        run: bind_constants,
    },
];

pub(crate) fn lookup(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

fn arity_message(b: &Builtin, got: usize) -> String {
    let n = b.params.len();
    let plural = if n == 1 { "" } else { "s" };
    let list: Vec<&str> = b.params.iter().map(|p| p.name()).collect();
    format!("function {} expects {n} argument{plural} ({}), got {got}", b.name, list.join(", "))
}

fn argument_message(b: &Builtin, index: usize, param: Param, got: &str) -> String {
    format!("argument {} of {} must be {}, got {got}", index + 1, b.name, param.name())
}

impl Builtin {
    /// Validates argument types statically and returns the result type.
    pub(super) fn check(&self, args: &[ExprType]) -> Result<ExprType, String> {
        if args.len() != self.params.len() {
            return Err(arity_message(self, args.len()));
        }
        for (i, (param, arg)) in self.params.iter().zip(args).enumerate() {
            if !param.accepts_type(arg) {
                return Err(argument_message(self, i, *param, &arg.to_string()));
            }
        }
        Ok((self.returns)(args))
    }

    /// Validates the actual arguments (a static check may have seen only `any`) and runs.
    pub(super) fn call(&self, args: &[Value], ctx: &EvalContext) -> Result<Value, String> {
        if args.len() != self.params.len() {
            return Err(arity_message(self, args.len()));
        }
        for (i, (param, arg)) in self.params.iter().zip(args).enumerate() {
            if !param.accepts_value(arg) {
                return Err(argument_message(self, i, *param, arg.type_name()));
            }
        }
        (self.run)(args, ctx)
    }
}

// Argument accessors. `call` has validated the arguments, so a mismatch here is a bug in the
// table above; it is reported as an error rather than a panic all the same.

fn mismatch(index: usize, wanted: &str) -> String {
    format!("internal error: argument {} is not {wanted}", index + 1)
}

fn int_arg(args: &[Value], index: usize) -> Result<i64, String> {
    match args.get(index) {
        Some(Value::Int(i)) => Ok(*i),
        _ => Err(mismatch(index, "an integer")),
    }
}

fn float_arg(args: &[Value], index: usize) -> Result<f64, String> {
    match args.get(index) {
        Some(Value::Float(f)) => Ok(*f),
        _ => Err(mismatch(index, "a float")),
    }
}

fn string_arg(args: &[Value], index: usize) -> Result<&str, String> {
    match args.get(index) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(mismatch(index, "a string")),
    }
}

fn int_to_float(args: &[Value], _: &EvalContext) -> Result<Value, String> {
    Ok(Value::Float(int_arg(args, 0)? as f64))
}

/// Truncates toward zero. Values beyond the i64 range (infinities included) clamp to its limits;
/// NaN has no sensible integer and is an error.
fn float_to_int(args: &[Value], _: &EvalContext) -> Result<Value, String> {
    let f = float_arg(args, 0)?;
    if f.is_nan() {
        return Err("cannot convert NaN to an integer".into());
    }
    // `as` saturates at the i64 limits, which is the clamping we want.
    Ok(Value::Int(f.trunc() as i64))
}

fn int_to_string(args: &[Value], _: &EvalContext) -> Result<Value, String> {
    Ok(Value::String(int_arg(args, 0)?.to_string()))
}

fn float_to_string(args: &[Value], _: &EvalContext) -> Result<Value, String> {
    Ok(Value::String(gostrconv::format_float(float_arg(args, 0)?, 'f', -1)))
}

fn float_to_formatted_string(args: &[Value], _: &EvalContext) -> Result<Value, String> {
    let f = float_arg(args, 0)?;
    let fmt = string_arg(args, 1)?;
    let prec = int_arg(args, 2)?;
    let mut chars = fmt.chars();
    let format = match (chars.next(), chars.next()) {
        (Some(c @ ('b' | 'e' | 'E' | 'f' | 'g' | 'G' | 'x' | 'X')), None) => c,
        _ => return Err(format!("unknown float format {fmt:?}; expected one of b, e, E, f, g, G, x, X")),
    };
    if prec > MAX_PRECISION {
        return Err(format!("precision {prec} is too large (at most {MAX_PRECISION}; -1 means shortest)"));
    }
    Ok(Value::String(gostrconv::format_float(f, format, prec)))
}

fn bool_to_string(args: &[Value], _: &EvalContext) -> Result<Value, String> {
    match args.first() {
        Some(Value::Bool(b)) => Ok(Value::String(b.to_string())),
        _ => Err(mismatch(0, "a bool")),
    }
}

fn string_to_int(args: &[Value], _: &EvalContext) -> Result<Value, String> {
    let s = string_arg(args, 0)?;
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("{s:?} is not an integer (expected an optional '-' and decimal digits)"));
    }
    s.parse::<i64>().map(Value::Int).map_err(|_| format!("{s:?} is out of the 64-bit integer range"))
}

fn string_to_float(args: &[Value], _: &EvalContext) -> Result<Value, String> {
    gostrconv::parse_float(string_arg(args, 0)?).map(Value::Float)
}

fn string_to_bool(args: &[Value], _: &EvalContext) -> Result<Value, String> {
    let s = string_arg(args, 0)?;
    match s.to_ascii_lowercase().as_str() {
        "true" | "t" | "1" => Ok(Value::Bool(true)),
        "false" | "f" | "0" => Ok(Value::Bool(false)),
        _ => Err(format!("{s:?} is not a bool (expected true, false, t, f, 1 or 0)")),
    }
}

fn float_op(args: &[Value], op: fn(f64) -> f64) -> Result<Value, String> {
    Ok(Value::Float(op(float_arg(args, 0)?)))
}

/// Like Go's `strings.Split`: an empty separator splits into characters.
fn split_string(args: &[Value], _: &EvalContext) -> Result<Value, String> {
    let s = string_arg(args, 0)?;
    let sep = string_arg(args, 1)?;
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep).map(|p| Value::String(p.to_string())).collect()
    };
    Ok(Value::List(parts))
}

/// Reads a UTF-8 text file (invalid sequences are replaced).
///
/// Relative paths resolve against the workflow's context directory (`ctx.context_dir`), not the
/// process working directory as in the reference engine, so a workflow reads the same files
/// wherever `arcaflow-py` is started from.
fn read_file(args: &[Value], ctx: &EvalContext) -> Result<Value, String> {
    let name = string_arg(args, 0)?;
    let path = Path::new(name);
    let full = if path.is_absolute() { path.to_path_buf() } else { ctx.context_dir.join(path) };
    // Bounded like every file we read (limits.maxFileBytes); FIFOs and devices are refused.
    match crate::limits::read_bytes(&full) {
        Ok(bytes) => Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) => Err(format!("cannot read file {}: {}", full.display(), e.trim_start_matches("cannot read it: "))),
    }
}

/// The variable's value (empty if set but empty), or `default` when it is unset or not Unicode.
fn get_env_var(args: &[Value], _: &EvalContext) -> Result<Value, String> {
    let name = string_arg(args, 0)?;
    let default = string_arg(args, 1)?;
    // Names the OS cannot hold are simply unset; checking first keeps std from rejecting them.
    if name.is_empty() || name.contains(['=', '\0']) {
        return Ok(Value::String(default.to_string()));
    }
    Ok(Value::String(std::env::var(name).unwrap_or_else(|_| default.to_string())))
}

/// The object id of a bound item: `<itemTypeId>__<constTypeId>`, as sub-workflows must name their root.
fn type_id(t: &ExprType) -> String {
    match t {
        ExprType::Object(o) => o.id.clone(),
        other => other.to_string(),
    }
}

fn bind_constants_type(args: &[ExprType]) -> ExprType {
    let item = match args.first() {
        Some(ExprType::List(item)) => (**item).clone(),
        _ => ExprType::Any,
    };
    let constant = args.get(1).cloned().unwrap_or(ExprType::Any);
    let id = format!("{}__{}", type_id(&item), type_id(&constant));
    let fields = BTreeMap::from([("item".to_string(), item), ("constant".to_string(), constant)]);
    ExprType::List(Box::new(ExprType::object(id, fields)))
}

fn bind_constants(args: &[Value], _: &EvalContext) -> Result<Value, String> {
    let (Some(Value::List(items)), Some(constant)) = (args.first(), args.get(1)) else {
        return Err(mismatch(0, "a list"));
    };
    let bound = items
        .iter()
        .map(|item| {
            Value::Map(BTreeMap::from([(Key::from("item"), item.clone()), (Key::from("constant"), constant.clone())]))
        })
        .collect();
    Ok(Value::List(bound))
}
