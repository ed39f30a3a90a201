//! Owns the tests of the schema module: parsing (YAML, CBOR, a real Python hello), validation, units, expression types, fuzzing.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::expr::ty::ExprType;
use crate::value::{Key, Value};

// ---------------------------------------------------------------------------------------------
// helpers

fn yaml(text: &str) -> Value {
    let y = crate::yaml::parse_text(text).expect("test YAML must parse");
    Value::from_yaml(&y)
}

fn scope(text: &str) -> Scope {
    match Scope::from_value(&yaml(text)) {
        Ok(s) => s,
        Err(e) => panic!("scope must parse: {e}"),
    }
}

fn schema_err(text: &str) -> SchemaError {
    match Scope::from_value(&yaml(text)) {
        Ok(s) => panic!("expected a SchemaError, parsed {s:?}"),
        Err(e) => e,
    }
}

fn ok(s: &Scope, input: &str) -> Value {
    match s.validate(&yaml(input)) {
        Ok(v) => v,
        Err(e) => panic!("{input} must validate: {e}"),
    }
}

fn bad(s: &Scope, input: &str) -> (Vec<String>, String) {
    match s.validate(&yaml(input)) {
        Ok(v) => panic!("{input} must not validate, got {v}"),
        Err(e) => (e.path, e.message),
    }
}

fn p(segments: &[&str]) -> Vec<String> {
    segments.iter().map(|s| s.to_string()).collect()
}

fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    match v.get(key) {
        Some(found) => found,
        None => panic!("{v} has no key {key}"),
    }
}

// ---------------------------------------------------------------------------------------------
// a plugin schema with one step (the kind a hello carries), as YAML and as CBOR

const GREET_YAML: &str = r#"
steps:
  greet:
    id: greet
    display: {name: Greet, description: Says hello}
    input:
      root: GreetInput
      objects:
        GreetInput:
          id: GreetInput
          properties:
            name:  {required: true, display: {name: Name, description: Who to greet}, examples: ['"Arca"'],
                    type: {type_id: string, min: 1, pattern: '^[a-zA-Z]+$'}}
            count: {required: false, default: '1', display: {name: Count}, type: {type_id: integer, min: 1, max: 5}}
            color: {required: false, display: {}, type: {type_id: enum_string, values: {red: {name: RED}, blue: {name: BLUE}}}}
            level: {required: false, display: {}, type: {type_id: enum_integer, values: {1: {name: LOW}, 2: {name: HIGH}}}}
            tags:  {required: false, display: {}, type: {type_id: list, items: {type_id: string}}}
            extra: {required: false, display: {}, type: {type_id: map, keys: {type_id: string}, values: {type_id: integer}}}
            alias: {required: false, display: {}, type: {type_id: one_of_string, discriminator_field_name: kind,
                    discriminator_inlined: false, types: {full: {type_id: ref, id: FullName}, nick: {type_id: ref, id: Nick}}}}
            a:     {required: false, display: {}, conflicts: [b], type: {type_id: string}}
            b:     {required: false, display: {}, required_if: [c], type: {type_id: string}}
            c:     {required: false, display: {}, type: {type_id: float}}
            anything: {required: false, display: {}, type: {type_id: any}}
        FullName: {id: FullName, properties: {first: {required: true, display: {}, type: {type_id: string}},
                                              last: {required: true, display: {}, type: {type_id: string}}}}
        Nick:     {id: Nick, properties: {nick: {required: true, display: {}, type: {type_id: string}}}}
    outputs:
      success: {error: false, schema: {root: GreetSuccess, objects: {GreetSuccess: {id: GreetSuccess, properties: {message: {required: true, display: {}, type: {type_id: string}}}}}}}
      error:   {error: false, schema: {root: GreetError, objects: {GreetError: {id: GreetError, properties: {error: {required: true, display: {}, type: {type_id: string}}}}}}}
"#;

mod cbor {
    pub(super) use ciborium::Value as C;

    pub(super) fn t(s: &str) -> C {
        C::Text(s.to_string())
    }

    pub(super) fn m(entries: Vec<(C, C)>) -> C {
        C::Map(entries)
    }

    pub(super) fn kv(k: &str, v: C) -> (C, C) {
        (t(k), v)
    }

    pub(super) fn ty(type_id: &str, mut fields: Vec<(C, C)>) -> C {
        fields.push(kv("type_id", t(type_id)));
        m(fields)
    }

    pub(super) fn prop(required: bool, ty: C, mut extra: Vec<(C, C)>) -> C {
        let mut fields = vec![kv("type", ty)];
        if !extra.iter().any(|(k, _)| *k == t("display")) {
            fields.push(kv("display", m(vec![])));
        }
        fields.append(&mut extra);
        fields.push(kv("required", C::Bool(required)));
        m(fields)
    }

    pub(super) fn object(id: &str, props: Vec<(C, C)>) -> C {
        m(vec![kv("id", t(id)), kv("properties", m(props))])
    }

    pub(super) fn scope(root: &str, objects: Vec<(&str, C)>) -> C {
        m(vec![kv("objects", m(objects.into_iter().map(|(k, v)| (t(k), v)).collect())), kv("root", t(root))])
    }

    pub(super) fn display(name: &str) -> C {
        m(vec![kv("name", t(name))])
    }

    fn string_prop() -> C {
        prop(true, ty("string", vec![]), vec![])
    }

    /// The greet example as a plugin sends it: text keys, integer keys for enum_integer values.
    pub(super) fn greet_schema() -> C {
        let greet_input = object(
            "GreetInput",
            vec![
                kv(
                    "name",
                    prop(
                        true,
                        ty("string", vec![kv("min", C::Integer(1.into())), kv("pattern", t("^[a-zA-Z]+$"))]),
                        vec![
                            kv("display", m(vec![kv("name", t("Name")), kv("description", t("Who to greet"))])),
                            kv("examples", C::Array(vec![t("\"Arca\"")])),
                        ],
                    ),
                ),
                kv(
                    "count",
                    prop(
                        false,
                        ty("integer", vec![kv("min", C::Integer(1.into())), kv("max", C::Integer(5.into()))]),
                        vec![kv("display", display("Count")), kv("default", t("1"))],
                    ),
                ),
                kv(
                    "color",
                    prop(
                        false,
                        ty(
                            "enum_string",
                            vec![kv("values", m(vec![kv("red", display("RED")), kv("blue", display("BLUE"))]))],
                        ),
                        vec![],
                    ),
                ),
                kv(
                    "level",
                    prop(
                        false,
                        ty(
                            "enum_integer",
                            vec![kv(
                                "values",
                                m(vec![
                                    (C::Integer(1.into()), display("LOW")),
                                    (C::Integer(2.into()), display("HIGH")),
                                ]),
                            )],
                        ),
                        vec![],
                    ),
                ),
                kv("tags", prop(false, ty("list", vec![kv("items", ty("string", vec![]))]), vec![])),
                kv(
                    "extra",
                    prop(
                        false,
                        ty("map", vec![kv("keys", ty("string", vec![])), kv("values", ty("integer", vec![]))]),
                        vec![],
                    ),
                ),
                kv(
                    "alias",
                    prop(
                        false,
                        ty(
                            "one_of_string",
                            vec![
                                kv(
                                    "types",
                                    m(vec![
                                        kv("full", ty("ref", vec![kv("id", t("FullName"))])),
                                        kv("nick", ty("ref", vec![kv("id", t("Nick"))])),
                                    ]),
                                ),
                                kv("discriminator_inlined", C::Bool(false)),
                                kv("discriminator_field_name", t("kind")),
                            ],
                        ),
                        vec![],
                    ),
                ),
                kv("a", prop(false, ty("string", vec![]), vec![kv("conflicts", C::Array(vec![t("b")]))])),
                kv("b", prop(false, ty("string", vec![]), vec![kv("required_if", C::Array(vec![t("c")]))])),
                kv("c", prop(false, ty("float", vec![]), vec![])),
                kv("anything", prop(false, ty("any", vec![]), vec![])),
            ],
        );
        let full = object("FullName", vec![kv("first", string_prop()), kv("last", string_prop())]);
        let nick = object("Nick", vec![kv("nick", string_prop())]);
        let output = |root: &str, field: &str| {
            m(vec![
                kv("schema", scope(root, vec![(root, object(root, vec![kv(field, string_prop())]))])),
                kv("error", C::Bool(false)),
            ])
        };
        let step = m(vec![
            kv("id", t("greet")),
            kv("input", scope("GreetInput", vec![("GreetInput", greet_input), ("FullName", full), ("Nick", nick)])),
            kv(
                "outputs",
                m(vec![kv("success", output("GreetSuccess", "message")), kv("error", output("GreetError", "error"))]),
            ),
            kv("display", m(vec![kv("name", t("Greet")), kv("description", t("Says hello"))])),
        ]);
        m(vec![kv("steps", m(vec![kv("greet", step)]))])
    }
}

/// Encodes to CBOR bytes and back, like the ATP reader does.
fn through_cbor_bytes(c: &ciborium::Value) -> Value {
    let mut bytes = Vec::new();
    ciborium::into_writer(c, &mut bytes).expect("encode");
    let decoded: ciborium::Value = ciborium::from_reader(bytes.as_slice()).expect("decode");
    Value::from_cbor(&decoded)
}

fn greet_from_yaml() -> PluginSchema {
    match PluginSchema::from_value(&yaml(GREET_YAML)) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn example_schema_parses_from_yaml_and_cbor_and_both_agree() {
    let from_yaml = greet_from_yaml();
    let from_cbor = match PluginSchema::from_value(&through_cbor_bytes(&cbor::greet_schema())) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(from_yaml, from_cbor);

    let step = &from_cbor.steps["greet"];
    assert_eq!(step.id, "greet");
    assert_eq!(step.display.as_ref().and_then(|d| d.name.as_deref()), Some("Greet"));
    assert!(!step.has_cancel_signal());
    assert_eq!(step.input.root, "GreetInput");
    assert_eq!(step.outputs.keys().collect::<Vec<_>>(), ["error", "success"]);
    let input = &step.input.objects["GreetInput"];
    let name = &input.properties["name"];
    assert!(name.required);
    assert_eq!(name.examples, vec!["\"Arca\"".to_string()]);
    assert_eq!(name.display.as_ref().and_then(|d| d.description.as_deref()), Some("Who to greet"));
    // `display: {}` is normalized away.
    assert_eq!(input.properties["color"].display, None);
    assert_eq!(input.properties["count"].default, Some(Value::Int(1)));
    match &input.properties["level"].ty {
        Type::EnumInteger { values, .. } => {
            assert_eq!(values.keys().copied().collect::<Vec<_>>(), [1, 2]);
            assert_eq!(values[&2].name.as_deref(), Some("HIGH"));
        }
        other => panic!("level is {other:?}"),
    }
    match &input.properties["alias"].ty {
        Type::OneOfString { types, discriminator_field_name, discriminator_inlined } => {
            assert_eq!(discriminator_field_name, "kind");
            assert!(!discriminator_inlined);
            assert_eq!(types["nick"], Type::Ref { id: "Nick".into(), namespace: None });
        }
        other => panic!("alias is {other:?}"),
    }
    assert_eq!(input.properties["a"].conflicts, vec!["b".to_string()]);
    assert_eq!(input.properties["b"].required_if, vec!["c".to_string()]);
}

#[test]
fn enum_integer_and_one_of_int_accept_text_keys_that_are_integers() {
    let with_text_keys =
        GREET_YAML.replace("{1: {name: LOW}, 2: {name: HIGH}}", r#"{"1": {name: LOW}, "2": {name: HIGH}}"#);
    assert_ne!(with_text_keys, GREET_YAML);
    let parsed = PluginSchema::from_value(&yaml(&with_text_keys)).map_err(|e| e.to_string());
    assert_eq!(parsed, Ok(greet_from_yaml()));

    let one_of = scope(
        r#"
root: R
objects:
  R: {id: R, properties: {o: {type: {type_id: one_of_int, types: {"1": {type_id: ref, id: A}, 2: {type_id: ref, id: A}}}}}}
  A: {id: A, properties: {}}
"#,
    );
    match &one_of.objects["R"].properties["o"].ty {
        Type::OneOfInt { types, discriminator_field_name, .. } => {
            assert_eq!(types.keys().copied().collect::<Vec<_>>(), [1, 2]);
            assert_eq!(discriminator_field_name, "_type");
        }
        other => panic!("{other:?}"),
    }
    let e = schema_err(
        r#"
root: R
objects:
  R: {id: R, properties: {o: {type: {type_id: enum_integer, values: {one: {}}}}}}
"#,
    );
    assert_eq!(e.path, p(&["objects", "R", "properties", "o", "type", "values", "one"]));
    assert_eq!(e.message, "Key 'one' must be an integer");
}

#[test]
fn example_schema_validates_like_the_python_plugin() {
    let schema = greet_from_yaml();
    let input = &schema.steps["greet"].input;
    assert_eq!(ok(input, "{name: Arca}"), Value::map_from([("name", s("Arca")), ("count", Value::Int(1))]));
    let full = ok(
        input,
        r#"{name: Arca, count: "2", color: red, level: 2, tags: [x], extra: {k: 1},
            alias: {kind: nick, nick: Lot}, c: 1.5, b: bee, anything: {n: [1, 2, 3], f: 2.5}}"#,
    );
    assert_eq!(get(&full, "count"), &Value::Int(2));
    assert_eq!(get(&full, "alias"), &Value::map_from([("kind", s("nick")), ("nick", s("Lot"))]));
    assert_eq!(get(&full, "anything"), &yaml("{n: [1, 2, 3], f: 2.5}"));

    // The errors the Python SDK reports for the same inputs, with the same paths minus the root object id.
    let cases: &[(&str, &[&str], &str)] = &[
        ("{name: x1}", &["name"], "String must match the pattern ^[a-zA-Z]+$"),
        ("{count: 2}", &["name"], "This field is required"),
        ("{name: Arca, bogus: 1}", &[], "Invalid parameter 'bogus', expected one of: a, alias, anything, b, c, color, count, extra, level, name, tags"),
        ("{name: Arca, count: 9}", &["count"], "Must be at most 5"),
        ("{name: Arca, a: x, b: y}", &["a"], "Field conflicts 'b', set one of the two, not both"),
        ("{name: Arca, c: 2.0}", &["b"], "This field is required because 'c' is set"),
        ("{name: Arca, color: green}", &["color"], "'green' is not a valid value, expected one of: blue, red"),
        ("{name: Arca, alias: {kind: zzz}}", &["alias", "kind"], "Invalid value for field: 'zzz' expected one of: 'full', 'nick'"),
        ("{name: Arca, count: 3.5}", &["count"], "Must be an integer, float given"),
        ("{name: 5}", &["name"], "String must match the pattern ^[a-zA-Z]+$"),
        ("hello", &[], "Must be a map, got string"),
    ];
    for (input_text, path, message) in cases {
        assert_eq!(bad(input, input_text), (p(path), message.to_string()), "input {input_text}");
    }
}

#[test]
fn steps_with_signals_and_output_flags() {
    let schema = PluginSchema::from_value(&yaml(
        r#"
steps:
  wait:
    id: wait
    input: {root: WaitInput, objects: {WaitInput: {id: WaitInput, properties: {seconds: {type: {type_id: float}}}}}}
    outputs:
      success: {schema: {root: Done, objects: {Done: {id: Done, properties: {}}}}}
      failed: {error: true, display: {name: Failed}, schema: {root: Done, objects: {Done: {id: Done, properties: {}}}}}
    signal_emitters: {}
    signal_handlers:
      cancel: {id: cancel, display: {name: Step Cancel, description: Cancels},
               data_schema: {root: cancelInput, objects: {cancelInput: {id: cancelInput, properties: {}}}}}
"#,
    ));
    let schema = match schema {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let wait = match schema.step("wait") {
        Some(step) => step,
        None => panic!("no wait step"),
    };
    assert!(wait.has_cancel_signal());
    assert!(wait.signal_emitters.is_empty());
    assert_eq!(wait.signal_handlers["cancel"].data_schema.root, "cancelInput");
    assert!(!wait.outputs["success"].error);
    assert!(wait.outputs["failed"].error);
    assert_eq!(wait.outputs["failed"].display.as_ref().and_then(|d| d.name.as_deref()), Some("Failed"));
    assert_eq!(wait.input.validate(&yaml("{seconds: 30}")), Ok(yaml("{seconds: 30.0}")));
    assert_eq!(wait.signal_handlers["cancel"].data_schema.validate(&yaml("{}")), Ok(Value::Map(BTreeMap::new())));
}

// ---------------------------------------------------------------------------------------------
// a real hello from the Python SDK (testdata/make_python_hello_schema.py)

fn python_schema() -> PluginSchema {
    let bytes: &[u8] = include_bytes!("testdata/python_hello_schema.cbor");
    let decoded: ciborium::Value = ciborium::from_reader(bytes).expect("fixture is CBOR");
    match PluginSchema::from_value(&Value::from_cbor(&decoded)) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn real_python_hello_schema_parses() {
    let schema = python_schema();
    assert_eq!(schema.steps.keys().collect::<Vec<_>>(), ["greet", "wait"]);
    assert!(schema.steps["wait"].has_cancel_signal());
    assert!(!schema.steps["greet"].has_cancel_signal());
    let input = &schema.steps["greet"].input;
    assert_eq!(
        input.objects.keys().collect::<Vec<_>>(),
        ["FullName", "GreetInput", "Inlined1", "Inlined2", "Nick", "Tree"]
    );
    let props = &input.objects["GreetInput"].properties;
    match &props["size"].ty {
        Type::Integer { units: Some(units), .. } => {
            assert_eq!(units.base_unit.name_long_plural, "bytes");
            assert_eq!(units.multipliers.keys().copied().collect::<Vec<_>>()[..2], [1024, 1048576]);
        }
        other => panic!("size is {other:?}"),
    }
    assert!(matches!(&props["inl"].ty, Type::OneOfInt { discriminator_inlined: true, .. }));
    assert!(matches!(&props["ikeys"].ty, Type::Map { keys, .. } if matches!(**keys, Type::Integer { .. })));
    assert_eq!(props["greeting"].default, Some(s("hello")));
    assert_eq!(props["flag"].default, Some(Value::Bool(false)));
    assert_eq!(input.objects["Tree"].properties["children"].default, Some(Value::List(vec![])));
}

#[test]
fn real_python_schema_validates_like_python() {
    let schema = python_schema();
    let input = &schema.steps["greet"].input;
    // Python: "This field is required because 'a' is not set" for d (required_if_not: [a]).
    assert_eq!(bad(input, "{name: Arca}"), (p(&["d"]), "This field is required because 'a' is not set".to_string()));
    assert_eq!(ok(input, "{name: Arca, a: x}"), yaml("{name: Arca, a: x, count: 1, flag: false, greeting: hello}"));
    let v = ok(
        input,
        r#"{name: Arca, a: x, size: 5MB, ratio: "1.5%", inl: {kind: "2", y: "7"},
            alias: {kind: full, first: A, last: B}, ikeys: {"1": one}, tree: {value: 1, children: [{value: 2}]}}"#,
    );
    assert_eq!(get(&v, "size"), &Value::Int(5 * 1024 * 1024));
    assert_eq!(get(&v, "ratio"), &Value::Float(1.5));
    assert_eq!(get(&v, "inl"), &yaml("{kind: 2, y: 7}"));
    assert_eq!(get(&v, "alias"), &yaml("{kind: full, first: A, last: B}"));
    assert_eq!(get(&v, "ikeys"), &Value::Map([(Key::Int(1), s("one"))].into_iter().collect()));
    assert_eq!(get(&v, "tree"), &yaml("{value: 1, children: [{value: 2, children: []}]}"));
    assert_eq!(
        bad(input, "{name: Arca, a: x, size: 1kB512X}").1,
        "Cannot parse '1kB512X' as 'bytes': invalid format, valid unit types are: 'B', 'byte', 'bytes', 'kB', 'kilobyte', 'kilobytes', 'MB', 'megabyte', 'megabytes', 'GB', 'gigabyte', 'gigabytes', 'TB', 'terabyte', 'terabytes', 'PB', 'petabyte', 'petabytes'"
    );
}

// ---------------------------------------------------------------------------------------------
// every type_id

const ALL_TYPES: &str = r#"
root: R
objects:
  R:
    id: R
    properties:
      s:   {required: false, type: {type_id: string, min: 2, max: 4, pattern: '[a-z]+'}}
      txt: {required: false, type: {type_id: string}}
      la:  {required: false, type: {type_id: string, pattern: 'a(?=b)'}}
      p:   {required: false, type: {type_id: pattern}}
      i:   {required: false, type: {type_id: integer, min: 1, max: 5}}
      f:   {required: false, type: {type_id: float, min: 0.5, max: 2.5}}
      b:   {required: false, type: {type_id: bool}}
      es:  {required: false, type: {type_id: enum_string, values: {red: {name: Red}, blue: {}}}}
      ei:  {required: false, type: {type_id: enum_integer, values: {"1": {name: One}, 2: {}}}}
      l:   {required: false, type: {type_id: list, items: {type_id: integer}, min: 1, max: 2}}
      m:   {required: false, type: {type_id: map, keys: {type_id: string}, values: {type_id: integer}, max: 2}}
      mi:  {required: false, type: {type_id: map, keys: {type_id: integer}, values: {type_id: string}}}
      o:   {required: false, type: {type_id: object, id: Inline, properties: {x: {type: {type_id: string}}}}}
      r:   {required: false, type: {type_id: ref, id: Sub, display: {name: Sub}}}
      sc:  {required: false, type: {type_id: scope, root: Inner, objects: {Inner: {id: Inner, properties: {y: {type: {type_id: integer}}}}}}}
      os:  {required: false, type: {type_id: one_of_string, discriminator_field_name: kind,
                                    types: {full: {type_id: ref, id: Full}, nick: {type_id: ref, id: Nick}}}}
      oi:  {required: false, type: {type_id: one_of_int, discriminator_inlined: true,
                                    types: {1: {type_id: ref, id: I1},
                                            2: {type_id: object, id: I2, properties: {_type: {type: {type_id: integer}}, z: {type: {type_id: string}}}}}}}
      a:   {required: false, type: {type_id: any}}
      size: {required: false, type: {type_id: integer, units: {
               base_unit: {name_short_singular: B, name_short_plural: B, name_long_singular: byte, name_long_plural: bytes},
               multipliers: {1024: {name_short_singular: kB, name_short_plural: kB, name_long_singular: kilobyte, name_long_plural: kilobytes},
                             "1048576": {name_short_singular: MB, name_short_plural: MB, name_long_singular: megabyte, name_long_plural: megabytes}}}}}
      dur:  {required: false, type: {type_id: integer, units: {
               base_unit: {name_short_singular: ns, name_short_plural: ns, name_long_singular: nanosecond, name_long_plural: nanoseconds},
               multipliers: {1000000: {name_short_singular: ms, name_short_plural: ms, name_long_singular: millisecond, name_long_plural: milliseconds},
                             1000000000: {name_short_singular: s, name_short_plural: s, name_long_singular: second, name_long_plural: seconds},
                             60000000000: {name_short_singular: m, name_short_plural: m, name_long_singular: minute, name_long_plural: minutes},
                             3600000000000: {name_short_singular: H, name_short_plural: H, name_long_singular: hour, name_long_plural: hours}}}}}
      ratio: {required: false, type: {type_id: float, units: {
               base_unit: {name_short_singular: "%", name_short_plural: "%", name_long_singular: percent, name_long_plural: percent}}}}
  Sub:  {id: Sub, properties: {v: {type: {type_id: integer}}, w: {required: false, default: '"dw"', type: {type_id: string}}}}
  Full: {id: Full, properties: {first: {type: {type_id: string}}, last: {type: {type_id: string}}}}
  Nick: {id: Nick, properties: {nick: {type: {type_id: string}}}}
  I1:   {id: I1, properties: {_type: {type: {type_id: integer}}, x: {type: {type_id: string}}}}
"#;

fn all_types() -> Scope {
    scope(ALL_TYPES)
}

/// Validates `{<field>: <value>}` and returns the normalized field.
fn field_ok(s: &Scope, field: &str, value: &str) -> Value {
    let v = ok(s, &format!("{{{field}: {value}}}"));
    get(&v, field).clone()
}

fn field_bad(s: &Scope, field: &str, value: &str) -> (Vec<String>, String) {
    bad(s, &format!("{{{field}: {value}}}"))
}

#[test]
fn type_ids_round_trip_through_the_model() {
    let sc = all_types();
    let props = &sc.objects["R"].properties;
    let ids: BTreeMap<&str, &str> = props.iter().map(|(k, v)| (k.as_str(), v.ty.type_id())).collect();
    assert_eq!(ids["s"], "string");
    assert_eq!(ids["p"], "pattern");
    assert_eq!(ids["i"], "integer");
    assert_eq!(ids["f"], "float");
    assert_eq!(ids["b"], "bool");
    assert_eq!(ids["es"], "enum_string");
    assert_eq!(ids["ei"], "enum_integer");
    assert_eq!(ids["l"], "list");
    assert_eq!(ids["m"], "map");
    assert_eq!(ids["o"], "object");
    assert_eq!(ids["r"], "ref");
    assert_eq!(ids["sc"], "scope");
    assert_eq!(ids["os"], "one_of_string");
    assert_eq!(ids["oi"], "one_of_int");
    assert_eq!(ids["a"], "any");
}

#[test]
fn strings() {
    let sc = all_types();
    assert_eq!(field_ok(&sc, "s", "abc"), s("abc"));
    // Python re.match: anchored at the start only.
    assert_eq!(field_ok(&sc, "s", "ab1"), s("ab1"));
    assert_eq!(field_bad(&sc, "s", "1ab"), (p(&["s"]), "String must match the pattern [a-z]+".into()));
    assert_eq!(field_bad(&sc, "s", "a"), (p(&["s"]), "String must be at least 2 characters".into()));
    assert_eq!(field_bad(&sc, "s", "abcde"), (p(&["s"]), "String must be at most 4 characters".into()));
    // Lengths are code points, not bytes.
    assert_eq!(field_ok(&sc, "s", "aééé"), s("aééé"));
    assert_eq!(field_bad(&sc, "s", "aéééé").1, "String must be at most 4 characters");
    // Scalars become text.
    assert_eq!(field_ok(&sc, "txt", "5"), s("5"));
    assert_eq!(field_ok(&sc, "txt", "1.5"), s("1.5"));
    assert_eq!(field_ok(&sc, "txt", "2.0"), s("2.0"));
    assert_eq!(field_ok(&sc, "txt", "true"), s("true"));
    assert_eq!(field_ok(&sc, "txt", "''"), s(""));
    assert_eq!(field_bad(&sc, "txt", "[1]"), (p(&["txt"]), "Must be a string, got list".into()));
    assert_eq!(field_bad(&sc, "txt", "{a: 1}").1, "Must be a string, got map");
    // A pattern Rust cannot compile (look-ahead) is left to the plugin.
    assert_eq!(field_ok(&sc, "la", "zzz"), s("zzz"));
}

#[test]
fn patterns() {
    let sc = all_types();
    assert_eq!(field_ok(&sc, "p", "'^[a-z]+$'"), s("^[a-z]+$"));
    assert_eq!(field_ok(&sc, "p", "'(?<=a)b'"), s("(?<=a)b"));
    let (path, message) = field_bad(&sc, "p", "'[a-'");
    assert_eq!(path, p(&["p"]));
    assert!(message.starts_with("Invalid regular expression: "), "{message}");
    assert_eq!(field_bad(&sc, "p", "[]").1, "Must be a string, got list");
}

#[test]
fn integers() {
    let sc = all_types();
    assert_eq!(field_ok(&sc, "i", "3"), Value::Int(3));
    assert_eq!(field_ok(&sc, "i", "'4'"), Value::Int(4));
    assert_eq!(field_ok(&sc, "i", "3.0"), Value::Int(3));
    assert_eq!(field_bad(&sc, "i", "3.5"), (p(&["i"]), "Must be an integer, float given".into()));
    assert_eq!(field_bad(&sc, "i", "true"), (p(&["i"]), "Must be an integer, got bool".into()));
    assert_eq!(field_bad(&sc, "i", "'4x'"), (p(&["i"]), "Cannot parse '4x' as an integer".into()));
    assert_eq!(field_bad(&sc, "i", "'-3'"), (p(&["i"]), "Must be at least 1".into()));
    assert_eq!(field_bad(&sc, "i", "0"), (p(&["i"]), "Must be at least 1".into()));
    assert_eq!(field_bad(&sc, "i", "6"), (p(&["i"]), "Must be at most 5".into()));
    assert_eq!(field_bad(&sc, "i", "[]").1, "Must be an integer, got list");
    assert_eq!(field_bad(&sc, "i", "'99999999999999999999'").1, "Integer '99999999999999999999' is out of range");
    assert_eq!(field_bad(&sc, "i", "1.0e30").1, "Integer 1e+30 is out of range");
}

#[test]
fn floats() {
    let sc = all_types();
    assert_eq!(field_ok(&sc, "f", "1.5"), Value::Float(1.5));
    assert_eq!(field_ok(&sc, "f", "2"), Value::Float(2.0));
    assert_eq!(field_ok(&sc, "f", "'1.25'"), Value::Float(1.25));
    assert_eq!(field_bad(&sc, "f", "0.25"), (p(&["f"]), "Must be at least 0.5".into()));
    assert_eq!(field_bad(&sc, "f", "3"), (p(&["f"]), "Must be at most 2.5".into()));
    assert_eq!(field_bad(&sc, "f", "abc"), (p(&["f"]), "Cannot parse 'abc' as a float".into()));
    assert_eq!(field_bad(&sc, "f", "true"), (p(&["f"]), "Must be a float, got bool".into()));
}

#[test]
fn bools() {
    let sc = all_types();
    for (text, expected) in [
        ("true", true),
        ("false", false),
        ("'Yes'", true),
        ("'y'", true),
        ("'ON'", true),
        ("'enabled'", true),
        ("'1'", true),
        ("'no'", false),
        ("'N'", false),
        ("'off'", false),
        ("'Disable'", false),
        ("'0'", false),
        ("1", true),
        ("0", false),
    ] {
        assert_eq!(field_ok(&sc, "b", text), Value::Bool(expected), "{text}");
    }
    assert_eq!(field_bad(&sc, "b", "2"), (p(&["b"]), "Cannot convert 2 to a bool, expected 0 or 1".into()));
    assert_eq!(field_bad(&sc, "b", "maybe"), (p(&["b"]), "Cannot parse 'maybe' as a bool".into()));
    assert_eq!(field_bad(&sc, "b", "1.0"), (p(&["b"]), "Must be a bool, got float".into()));
}

#[test]
fn enums() {
    let sc = all_types();
    assert_eq!(field_ok(&sc, "es", "red"), s("red"));
    assert_eq!(
        field_bad(&sc, "es", "green"),
        (p(&["es"]), "'green' is not a valid value, expected one of: blue, red".into())
    );
    assert_eq!(field_bad(&sc, "es", "[red]").1, "Must be a string, got list");
    assert_eq!(field_ok(&sc, "ei", "1"), Value::Int(1));
    assert_eq!(field_ok(&sc, "ei", "'2'"), Value::Int(2));
    assert_eq!(field_ok(&sc, "ei", "2.0"), Value::Int(2));
    assert_eq!(field_bad(&sc, "ei", "3"), (p(&["ei"]), "'3' is not a valid value, expected one of: 1, 2".into()));
    assert_eq!(field_bad(&sc, "ei", "one").1, "Cannot parse 'one' as an integer");
}

#[test]
fn lists() {
    let sc = all_types();
    assert_eq!(field_ok(&sc, "l", "[1, '2']"), yaml("[1, 2]"));
    assert_eq!(field_bad(&sc, "l", "x"), (p(&["l"]), "Must be a list, got string".into()));
    assert_eq!(field_bad(&sc, "l", "[]"), (p(&["l"]), "Must have at least 1 items, 0 given".into()));
    assert_eq!(field_bad(&sc, "l", "[1, 2, 3]"), (p(&["l"]), "Must have at most 2 items, 3 given".into()));
    assert_eq!(field_bad(&sc, "l", "[1, x]"), (p(&["l", "[1]"]), "Cannot parse 'x' as an integer".into()));
}

#[test]
fn maps() {
    let sc = all_types();
    assert_eq!(field_ok(&sc, "m", "{a: 1, b: '2'}"), yaml("{a: 1, b: 2}"));
    assert_eq!(field_bad(&sc, "m", "[1]"), (p(&["m"]), "Must be a map, got list".into()));
    assert_eq!(field_bad(&sc, "m", "{a: 1, b: 2, c: 3}"), (p(&["m"]), "Must have at most 2 items, 3 given".into()));
    assert_eq!(field_bad(&sc, "m", "{k: abc}"), (p(&["m", "[k]"]), "Cannot parse 'abc' as an integer".into()));
    // Integer keys: text digits become Key::Int; key errors use `{k}`.
    assert_eq!(
        field_ok(&sc, "mi", r#"{"1": a, 2: b, 3: 4}"#),
        Value::Map([(Key::Int(1), s("a")), (Key::Int(2), s("b")), (Key::Int(3), s("4"))].into_iter().collect())
    );
    assert_eq!(field_bad(&sc, "mi", "{x: a}"), (p(&["mi", "{x}"]), "Cannot parse 'x' as an integer".into()));
    assert_eq!(
        field_bad(&sc, "mi", r#"{"1": a, 1: b}"#),
        (p(&["mi", "{1}"]), "Duplicate map key '1' after conversion".into())
    );
}

#[test]
fn objects_refs_and_scopes() {
    let sc = all_types();
    assert_eq!(field_ok(&sc, "o", "{x: 1}"), yaml("{x: '1'}"));
    assert_eq!(field_bad(&sc, "o", "{}"), (p(&["o", "x"]), "This field is required".into()));
    assert_eq!(field_bad(&sc, "o", "str"), (p(&["o"]), "Must be a map, got string".into()));
    assert_eq!(field_bad(&sc, "o", "{x: a, y: b}"), (p(&["o"]), "Invalid parameter 'y', expected one of: x".into()));
    // Defaults of a referenced object apply when the object is present.
    assert_eq!(field_ok(&sc, "r", "{v: '5'}"), yaml("{v: 5, w: dw}"));
    assert_eq!(field_bad(&sc, "r", "{}"), (p(&["r", "v"]), "This field is required".into()));
    assert_eq!(field_ok(&sc, "sc", "{y: 1}"), yaml("{y: 1}"));
    assert_eq!(field_bad(&sc, "sc", "{y: z}"), (p(&["sc", "y"]), "Cannot parse 'z' as an integer".into()));
    // Unknown keys at the root, listed sorted; an integer key is named by its text.
    let (path, message) = bad(&sc, "{bogus: 1}");
    assert!(path.is_empty());
    assert_eq!(
        message,
        "Invalid parameter 'bogus', expected one of: a, b, dur, ei, es, f, i, l, la, m, mi, o, oi, os, p, r, ratio, s, sc, size, txt"
    );
    assert_eq!(bad(&sc, "{5: 1}").1.split(',').next(), Some("Invalid parameter '5'"));
    // Null counts as unset; unset optional properties are left out.
    assert_eq!(ok(&sc, "{txt: null, a: null}"), Value::Map(BTreeMap::new()));
}

#[test]
fn one_of_with_separate_discriminator() {
    let sc = all_types();
    assert_eq!(field_ok(&sc, "os", "{kind: full, first: A, last: B}"), yaml("{kind: full, first: A, last: B}"));
    assert_eq!(field_ok(&sc, "os", "{kind: nick, nick: 5}"), yaml("{kind: nick, nick: '5'}"));
    assert_eq!(
        field_bad(&sc, "os", "{kind: zzz}"),
        (p(&["os", "kind"]), "Invalid value for field: 'zzz' expected one of: 'full', 'nick'".into())
    );
    assert_eq!(
        field_bad(&sc, "os", "{nick: N}"),
        (p(&["os", "kind"]), "Required discriminator field not found".into())
    );
    assert_eq!(field_bad(&sc, "os", "{kind: nick}"), (p(&["os", "nick"]), "This field is required".into()));
    assert_eq!(
        field_bad(&sc, "os", "{kind: nick, nick: N, first: A}"),
        (p(&["os"]), "Invalid parameter 'first', expected one of: nick".into())
    );
    assert_eq!(field_bad(&sc, "os", "x"), (p(&["os"]), "Must be a map, got string".into()));
}

#[test]
fn one_of_with_inlined_discriminator() {
    let sc = all_types();
    assert_eq!(field_ok(&sc, "oi", "{_type: 1, x: a}"), yaml("{_type: 1, x: a}"));
    assert_eq!(field_ok(&sc, "oi", "{_type: '2', z: q}"), yaml("{_type: 2, z: q}"));
    assert_eq!(
        field_bad(&sc, "oi", "{_type: 3}"),
        (p(&["oi", "_type"]), "Invalid value for field: '3' expected one of: '1', '2'".into())
    );
    assert_eq!(field_bad(&sc, "oi", "{_type: abc}"), (p(&["oi", "_type"]), "Cannot parse 'abc' as an integer".into()));
    assert_eq!(field_bad(&sc, "oi", "{_type: 1}"), (p(&["oi", "x"]), "This field is required".into()));
}

#[test]
fn any_accepts_everything() {
    let sc = all_types();
    assert_eq!(field_ok(&sc, "a", "[1, x, {k: null}, 2.5]"), yaml("[1, x, {k: null}, 2.5]"));
    assert_eq!(Type::Any.validate_in(&sc, &Value::Null), Ok(Value::Null));
}

#[test]
fn unit_strings() {
    let sc = all_types();
    assert_eq!(field_ok(&sc, "size", "5MB"), Value::Int(5 * 1024 * 1024));
    assert_eq!(field_ok(&sc, "size", "'5 MB'"), Value::Int(5 * 1024 * 1024));
    assert_eq!(field_ok(&sc, "size", "1kB512B"), Value::Int(1536));
    assert_eq!(field_ok(&sc, "size", "2 kilobytes"), Value::Int(2048));
    assert_eq!(field_ok(&sc, "size", "1.5kB"), Value::Int(1536));
    assert_eq!(field_ok(&sc, "size", "'100'"), Value::Int(100));
    assert_eq!(field_ok(&sc, "size", "100B"), Value::Int(100));
    assert_eq!(field_bad(&sc, "size", "0.5B"), (p(&["size"]), "Must be an integer, float given".into()));
    assert_eq!(
        field_bad(&sc, "size", "5mb").1,
        "Cannot parse '5mb' as 'bytes': invalid format, valid unit types are: 'B', 'byte', 'bytes', 'kB', 'kilobyte', 'kilobytes', 'MB', 'megabyte', 'megabytes'"
    );
    assert_eq!(field_ok(&sc, "dur", "90s"), Value::Int(90_000_000_000));
    assert_eq!(field_ok(&sc, "dur", "1H"), Value::Int(3_600_000_000_000));
    assert_eq!(field_ok(&sc, "dur", "1m30s"), Value::Int(90_000_000_000));
    assert_eq!(field_ok(&sc, "dur", "5ms"), Value::Int(5_000_000));
    assert_eq!(field_ok(&sc, "dur", "2 minutes"), Value::Int(120_000_000_000));
    assert!(field_bad(&sc, "dur", "1h").1.starts_with("Cannot parse '1h' as 'nanoseconds': invalid format"));
    assert_eq!(field_ok(&sc, "ratio", "'12.5%'"), Value::Float(12.5));
    assert_eq!(field_ok(&sc, "ratio", "50 percent"), Value::Float(50.0));
    assert_eq!(field_ok(&sc, "ratio", "'7'"), Value::Float(7.0));
}

#[test]
fn units_parser_edge_cases() {
    let bytes = Units {
        base_unit: Unit {
            name_short_singular: "B".into(),
            name_short_plural: "B".into(),
            name_long_singular: "byte".into(),
            name_long_plural: "bytes".into(),
        },
        multipliers: [(
            1_125_899_906_842_624,
            Unit {
                name_short_singular: "PB".into(),
                name_short_plural: "PB".into(),
                name_long_singular: "petabyte".into(),
                name_long_plural: "petabytes".into(),
            },
        )]
        .into_iter()
        .collect(),
    };
    assert_eq!(bytes.parse("  "), Err("Empty string cannot be parsed as bytes".to_string()));
    assert_eq!(bytes.parse("1PB 1B"), Ok(UnitNumber::Int(1_125_899_906_842_625)));
    assert_eq!(bytes.parse("99999PB"), Err("Number out of range in '99999PB'".to_string()));
    assert!(bytes.parse("PB").is_err());
    assert!(bytes.parse("1. B").is_err());
    assert!(bytes.parse("1 2").is_err());
    assert_eq!(bytes.parse("0.5"), Ok(UnitNumber::Float(0.5)));
}

// ---------------------------------------------------------------------------------------------
// defaults and the required family

#[test]
fn defaults_in_every_json_text_form() {
    let sc = scope(
        r#"
root: D
objects:
  D:
    id: D
    properties:
      n:      {required: false, default: 60, type: {type_id: integer}}
      n_text: {required: false, default: '60', type: {type_id: integer}}
      q:      {required: false, default: '"none"', type: {type_id: string}}
      t:      {required: false, default: "10s", type: {type_id: string}}
      e:      {required: false, default: "''", type: {type_id: string}}
      l:      {required: false, default: '[1, 2]', type: {type_id: list, items: {type_id: integer}}}
      o:      {required: false, default: '{"v": 1}', type: {type_id: ref, id: Sub}}
      b:      {required: false, default: 'true', type: {type_id: bool}}
      f:      {required: false, default: 1.5, type: {type_id: float}}
      s60:    {required: false, default: 60, type: {type_id: string}}
      es:     {required: false, default: red, type: {type_id: enum_string, values: {red: {}}}}
      nodef:  {required: false, default: 'null', type: {type_id: string}}
      given:  {required: false, default: '1', type: {type_id: integer}}
  Sub: {id: Sub, properties: {v: {type: {type_id: integer}}, w: {required: false, default: '"dw"', type: {type_id: string}}}}
"#,
    );
    assert_eq!(sc.objects["D"].properties["nodef"].default, None);
    assert_eq!(
        ok(&sc, "{given: 7}"),
        yaml(
            r#"{n: 60, n_text: 60, q: none, t: 10s, e: "''", l: [1, 2], o: {v: 1, w: dw}, b: true, f: 1.5,
                s60: "60", es: red, given: 7}"#
        )
    );
    // A default that does not fit its type is reported where it is applied.
    let bad_default = scope(
        r#"
root: D
objects:
  D: {id: D, properties: {x: {required: false, default: '"abc"', type: {type_id: integer}}}}
"#,
    );
    assert_eq!(bad(&bad_default, "{}"), (p(&["x"]), "Cannot parse 'abc' as an integer".into()));
    // Text that is not JSON is only a literal for text types.
    let e = schema_err(
        r#"
root: D
objects:
  D: {id: D, properties: {x: {required: false, default: abc, type: {type_id: integer}}}}
"#,
    );
    assert_eq!(e.path, p(&["objects", "D", "properties", "x", "default"]));
    assert!(e.message.starts_with("Default value \"abc\" is not valid JSON"), "{}", e.message);
}

const CONSTRAINTS: &str = r#"
root: C
objects:
  C:
    id: C
    properties:
      a: {required: false, conflicts: [b], type: {type_id: string}}
      b: {required: false, required_if: [c], type: {type_id: string}}
      c: {required: false, type: {type_id: float}}
      d: {required: false, required_if_not: [a], type: {type_id: string}}
      e: {required: false, required_if_not: [a, c], type: {type_id: string}}
      name: {type: {type_id: string}}
"#;

#[test]
fn required_required_if_required_if_not_and_conflicts() {
    let sc = scope(CONSTRAINTS);
    assert_eq!(ok(&sc, "{a: x, name: n}"), yaml("{a: x, name: n}"));
    assert_eq!(bad(&sc, "{}"), (p(&["d"]), "This field is required because 'a' is not set".into()));
    assert_eq!(
        bad(&sc, "{a: x, b: y, name: n}"),
        (p(&["a"]), "Field conflicts 'b', set one of the two, not both".into())
    );
    assert_eq!(
        bad(&sc, "{c: 1, d: x, e: y, name: n}"),
        (p(&["b"]), "This field is required because 'c' is set".into())
    );
    assert_eq!(
        bad(&sc, "{d: x, name: n}"),
        (p(&["e"]), "This field is required because none of 'a', 'c' are set".into())
    );
    assert_eq!(ok(&sc, "{c: 1, b: y, d: x, name: n}"), yaml("{c: 1.0, b: y, d: x, name: n}"));
    assert_eq!(bad(&sc, "{a: x}"), (p(&["name"]), "This field is required".into()));
    assert_eq!(bad(&sc, "{a: x, name: null}"), (p(&["name"]), "This field is required".into()));
    assert_eq!(
        bad(&sc, "{a: x, name: n, zz: 1}"),
        (p(&[]), "Invalid parameter 'zz', expected one of: a, b, c, d, e, name".into())
    );
}

#[test]
fn a_default_counts_as_set() {
    let sc = scope(
        r#"
root: C
objects:
  C:
    id: C
    properties:
      a: {required: false, default: '"x"', type: {type_id: string}}
      b: {required: false, required_if: [a], type: {type_id: string}}
"#,
    );
    assert_eq!(bad(&sc, "{}"), (p(&["b"]), "This field is required because 'a' is set".into()));
}

#[test]
fn error_display() {
    let e = ValidationError { path: p(&["a", "[0]"]), message: "Must be at most 5".into() };
    assert_eq!(e.to_string(), "a -> [0]: Must be at most 5");
    let e = ValidationError { path: vec![], message: "Must be a map, got list".into() };
    assert_eq!(e.to_string(), "Must be a map, got list");
    let e = SchemaError { path: p(&["objects", "R"]), message: "boom".into() };
    assert_eq!(e.to_string(), "objects -> R: boom");
    assert_eq!(e.prefixed(&["input"]).to_string(), "input -> objects -> R: boom");
}

// ---------------------------------------------------------------------------------------------
// malformed schemas

#[test]
fn malformed_schemas_are_errors_not_panics() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "{root: A, objects: {A: {id: B, properties: {}}}}",
            &["objects", "A"],
            "Object ID 'B' does not match its key 'A'",
        ),
        ("{root: Z, objects: {A: {id: A, properties: {}}}}", &["root"], "Root object 'Z' not found in objects (known: A)"),
        (
            "{root: A, objects: {A: {id: A, properties: {x: {type: {type_id: ref, id: Nope}}}}}}",
            &["objects", "A", "properties", "x", "type"],
            "Referenced object 'Nope' not found in scope (known: A)",
        ),
        (
            "{root: A, objects: {A: {id: A, properties: {x: {type: {type_id: list, items: {type_id: ref, id: Nope}}}}}}}",
            &["objects", "A", "properties", "x", "type", "items"],
            "Referenced object 'Nope' not found in scope (known: A)",
        ),
        (
            "{root: A, objects: {A: {id: A, properties: {x: {type: {type_id: strin}}}}}}",
            &["objects", "A", "properties", "x", "type", "type_id"],
            "Unknown type_id 'strin', expected one of: any, bool, enum_integer, enum_string, float, integer, list, map, object, one_of_int, one_of_string, pattern, ref, scope, string",
        ),
        (
            "{root: A, objects: {A: {id: A, properties: {x: {bogus: 1, type: {type_id: string}}}}}}",
            &["objects", "A", "properties", "x"],
            "Invalid parameter 'bogus', expected one of: conflicts, default, disabled, disabled_reason, display, examples, required, required_if, required_if_not, type",
        ),
        (
            "{root: A, objects: {A: {id: A, properties: {x: {type: {type_id: string, minimum: 1}}}}}}",
            &["objects", "A", "properties", "x", "type"],
            "Invalid parameter 'minimum', expected one of: max, min, pattern, type_id",
        ),
        ("{root: A, objects: {A: {id: A, properties: {}}}, extra: 1}", &[], "Invalid parameter 'extra', expected one of: objects, root, type_id"),
        ("{root: A, objects: {'a b': {id: 'a b', properties: {}}}}", &["objects", "a b"], "Invalid ID 'a b': must be 1-255 characters matching ^[$@a-zA-Z0-9-_]+$"),
        ("{root: A, objects: {A: {id: A}}}", &["objects", "A"], "Missing required field 'properties'"),
        ("{objects: {A: {id: A, properties: {}}}}", &[], "Missing required field 'root'"),
        ("[1]", &[], "scope must be a map, got list"),
        (
            "{root: A, objects: {A: {id: A, properties: {x: {type: {type_id: map, keys: {type_id: bool}, values: {type_id: any}}}}}}}",
            &["objects", "A", "properties", "x", "type", "keys"],
            "Map keys must be of type string, integer, enum_string or enum_integer, got bool",
        ),
        (
            "{root: A, objects: {A: {id: A, properties: {x: {type: {type_id: one_of_string, types: {a: {type_id: string}}}}}}}}",
            &["objects", "A", "properties", "x", "type", "types", "a"],
            "one_of members must be of type ref, object or scope, got string",
        ),
        (
            "{root: A, objects: {A: {id: A, properties: {x: {type: {type_id: one_of_int, types: {one: {type_id: ref, id: A}}}}}}}}",
            &["objects", "A", "properties", "x", "type", "types", "one"],
            "Key 'one' must be an integer",
        ),
        (
            "{root: A, objects: {A: {id: A, properties: {x: {type: {type_id: enum_string, values: {}}}}}}}",
            &["objects", "A", "properties", "x", "type", "values"],
            "Must have at least 1 item",
        ),
        (
            "{root: A, objects: {A: {id: A, properties: {x: {type: {type_id: string, min: -1}}}}}}",
            &["objects", "A", "properties", "x", "type", "min"],
            "Must be at least 0, got -1",
        ),
        (
            "{root: A, objects: {A: {id: A, properties: {x: {required: maybe, type: {type_id: string}}}}}}",
            &["objects", "A", "properties", "x", "required"],
            "Cannot parse 'maybe' as a bool",
        ),
        (
            "{root: A, objects: {A: {id: A, properties: {x: {type: {type_id: scope, root: B, objects: {B: {id: B, properties: {y: {type: {type_id: ref, id: A}}}}}}}}}}}",
            &["objects", "A", "properties", "x", "type", "objects", "B", "properties", "y", "type"],
            "Referenced object 'A' not found in scope (known: B)",
        ),
        (
            "{root: A, objects: {A: {id: A, properties: {x: {type: {type_id: 5}}}}}}",
            &["objects", "A", "properties", "x", "type", "type_id"],
            "Must be a string, got integer",
        ),
        (
            "{root: A, type_id: object, objects: {A: {id: A, properties: {}}}}",
            &["type_id"],
            "Expected type_id 'scope', got 'object'",
        ),
    ];
    for (text, path, message) in cases {
        let e = schema_err(text);
        assert_eq!((e.path, e.message), (p(path), message.to_string()), "schema {text}");
    }
}

#[test]
fn plugin_schema_errors() {
    let e = match PluginSchema::from_value(&yaml(
        "{steps: {greet: {id: hello, input: {root: A, objects: {A: {id: A, properties: {}}}}, outputs: {}}}}",
    )) {
        Ok(_) => panic!("must fail"),
        Err(e) => e,
    };
    assert_eq!(
        (e.path, e.message),
        (p(&["steps", "greet"]), "Step ID 'hello' does not match its key 'greet'".to_string())
    );
    let e = match PluginSchema::from_value(&yaml(
        "{steps: {s: {input: {root: A, objects: {A: {id: A, properties: {}}}}, outputs: {ok: {}}}}}",
    )) {
        Ok(_) => panic!("must fail"),
        Err(e) => e,
    };
    assert_eq!(
        (e.path, e.message),
        (p(&["steps", "s", "outputs", "ok"]), "Missing required field 'schema'".to_string())
    );
    let e = match PluginSchema::from_value(&yaml("{version: 3, schema: {}}")) {
        Ok(_) => panic!("must fail"),
        Err(e) => e,
    };
    assert_eq!(e.message, "Invalid parameter 'schema', expected one of: steps");
}

#[test]
fn deeply_nested_definitions_are_rejected_without_overflow() {
    let mut ty = yaml("{type_id: string}");
    for _ in 0..2000 {
        ty = Value::map_from([("type_id", s("list")), ("items", ty)]);
    }
    let def = Value::map_from([
        ("root", s("A")),
        (
            "objects",
            Value::map_from([(
                "A",
                Value::map_from([
                    ("id", s("A")),
                    ("properties", Value::map_from([("x", Value::map_from([("type", ty)]))])),
                ]),
            )]),
        ),
    ]);
    let e = match Scope::from_value(&def) {
        Ok(_) => panic!("must fail"),
        Err(e) => e,
    };
    assert_eq!(e.message, "Schema definition is nested too deeply");
    // Deep values are rejected too (an `any`-free list-of-list schema).
    let sc = scope(
        r#"{root: L, objects: {L: {id: L, properties: {l: {required: false, type: {type_id: list, items: {type_id: ref, id: L}}}}}}}"#,
    );
    let mut v = Value::Map(BTreeMap::new());
    for _ in 0..400 {
        v = Value::map_from([("l", Value::List(vec![v]))]);
    }
    assert_eq!(sc.validate(&v).map_err(|e| e.message), Err("Value is nested too deeply".to_string()));
}

// ---------------------------------------------------------------------------------------------
// namespaced refs

#[test]
fn namespaced_refs_are_kept_and_resolved_on_request() {
    let mut sc = scope(
        r#"
root: R
objects:
  R: {id: R, properties: {p: {type: {type_id: ref, id: InputParams, namespace: $.steps.example.starting.inputs.input}}}}
"#,
    );
    assert_eq!(
        sc.objects["R"].properties["p"].ty,
        Type::Ref { id: "InputParams".into(), namespace: Some("$.steps.example.starting.inputs.input".into()) }
    );
    assert_eq!(
        bad(&sc, "{p: {x: 1}}"),
        (
            p(&["p"]),
            "Namespaced reference to object 'InputParams' in namespace '$.steps.example.starting.inputs.input' was not resolved".into()
        )
    );
    assert_eq!(sc.expr_type(), ExprType::object("R", [("p".to_string(), ExprType::Any)].into_iter().collect()));

    let foreign = scope(
        r#"
root: InputParams
objects:
  InputParams: {id: InputParams, properties: {x: {type: {type_id: ref, id: X}}}}
  X: {id: X, properties: {n: {type: {type_id: integer}}}}
"#,
    );
    let mut asked = Vec::new();
    let result = sc.resolve_namespaced_refs(&mut |namespace, id| {
        asked.push((namespace.to_string(), id.to_string()));
        Ok(foreign.clone())
    });
    assert_eq!(result, Ok(()));
    // The ref became the borrowed scope, remembering where it came from.
    let Type::Scope(borrowed) = &sc.objects["R"].properties["p"].ty else { panic!("not resolved") };
    assert_eq!(borrowed.borrowed_from.as_deref(), Some("$.steps.example.starting.inputs.input"));
    assert_eq!(borrowed.root, "InputParams");
    assert_eq!(asked, vec![("$.steps.example.starting.inputs.input".to_string(), "InputParams".to_string())]);
    assert_eq!(ok(&sc, "{p: {x: {n: '3'}}}"), yaml("{p: {x: {n: 3}}}"));

    let mut unresolvable =
        scope(r#"{root: R, objects: {R: {id: R, properties: {p: {type: {type_id: ref, id: Q, namespace: $.nope}}}}}}"#);
    let e = unresolvable.resolve_namespaced_refs(&mut |namespace, _| Err(format!("unknown namespace {namespace}")));
    assert_eq!(
        e.map_err(|e| (e.path, e.message)),
        Err((p(&["objects", "R", "properties", "p", "type"]), "unknown namespace $.nope".to_string()))
    );
}

// ---------------------------------------------------------------------------------------------
// expression types

#[test]
fn expr_types_follow_the_schema() {
    let sc = all_types();
    let ExprType::Object(root) = sc.expr_type() else {
        panic!("root must be an object");
    };
    assert_eq!(root.id, "R");
    let f = &root.fields;
    assert_eq!(f["s"], ExprType::String);
    assert_eq!(f["p"], ExprType::String);
    assert_eq!(f["es"], ExprType::String);
    assert_eq!(f["i"], ExprType::Int);
    assert_eq!(f["ei"], ExprType::Int);
    assert_eq!(f["f"], ExprType::Float);
    assert_eq!(f["b"], ExprType::Bool);
    assert_eq!(f["a"], ExprType::Any);
    assert_eq!(f["l"], ExprType::List(Box::new(ExprType::Int)));
    assert_eq!(f["m"], ExprType::Map(Box::new(ExprType::String), Box::new(ExprType::Int)));
    assert_eq!(f["mi"], ExprType::Map(Box::new(ExprType::Int), Box::new(ExprType::String)));
    assert_eq!(
        f["r"],
        ExprType::object(
            "Sub",
            [("v".to_string(), ExprType::Int), ("w".to_string(), ExprType::String)].into_iter().collect()
        )
    );
    assert_eq!(f["sc"], ExprType::object("Inner", [("y".to_string(), ExprType::Int)].into_iter().collect()));
    let ExprType::OneOf(members) = &f["os"] else {
        panic!("os must be a one-of");
    };
    assert_eq!(members.len(), 2);
    for member in members {
        let ExprType::Object(o) = member else {
            panic!("members are objects");
        };
        // The discriminator is readable even though the member objects do not declare it.
        assert_eq!(o.fields["kind"], ExprType::String);
    }
    let greet = greet_from_yaml();
    assert_eq!(
        greet.steps["greet"].outputs["success"].schema.expr_type(),
        ExprType::object("GreetSuccess", [("message".to_string(), ExprType::String)].into_iter().collect())
    );
}

/// Follows `field` (through lists) until the type is no longer an object; returns how deep it got.
fn depth_until_any(mut t: ExprType, field: &str) -> usize {
    let mut depth = 0;
    loop {
        match t {
            ExprType::Object(o) => match o.fields.get(field) {
                Some(next) => {
                    t = next.clone();
                    depth += 1;
                }
                None => return depth,
            },
            ExprType::List(inner) => t = *inner,
            ExprType::Any => return depth,
            _ => return usize::MAX,
        }
    }
}

#[test]
fn recursive_schema_expr_type_terminates() {
    let schema = python_schema();
    let input = &schema.steps["greet"].input;
    let ExprType::Object(root) = input.expr_type() else {
        panic!("object expected");
    };
    let depth = depth_until_any(root.fields["tree"].clone(), "children");
    assert!((5..=EXPR_TYPE_MAX_DEPTH).contains(&depth), "depth {depth}");
}

#[test]
fn densely_recursive_schema_expr_type_is_fast() {
    // 8 objects × 8 properties each referring to every object: 8^12 paths without memoization.
    let mut objects = String::new();
    for i in 0..8 {
        objects.push_str(&format!("  O{i}: {{id: O{i}, properties: {{"));
        for j in 0..8 {
            objects.push_str(&format!("p{j}: {{type: {{type_id: ref, id: O{j}}}}}, "));
        }
        objects.push_str("}}\n");
    }
    let sc = scope(&format!("root: O0\nobjects:\n{objects}"));
    let started = std::time::Instant::now();
    let t = sc.expr_type();
    assert!(started.elapsed().as_secs() < 5);
    assert!(depth_until_any(t, "p3") <= EXPR_TYPE_MAX_DEPTH);
}

// ---------------------------------------------------------------------------------------------
// property tests

const WORDS: &[&str] = &[
    "steps",
    "id",
    "input",
    "outputs",
    "schema",
    "error",
    "display",
    "name",
    "root",
    "objects",
    "properties",
    "type",
    "type_id",
    "string",
    "integer",
    "float",
    "bool",
    "list",
    "map",
    "object",
    "ref",
    "scope",
    "one_of_string",
    "one_of_int",
    "any",
    "pattern",
    "enum_string",
    "enum_integer",
    "items",
    "keys",
    "values",
    "min",
    "max",
    "units",
    "base_unit",
    "multipliers",
    "default",
    "required",
    "required_if",
    "required_if_not",
    "conflicts",
    "discriminator_field_name",
    "discriminator_inlined",
    "types",
    "kind",
    "_type",
    "R",
    "Sub",
    "Full",
    "Nick",
    "full",
    "nick",
    "s",
    "i",
    "f",
    "b",
    "l",
    "m",
    "mi",
    "o",
    "r",
    "sc",
    "os",
    "oi",
    "a",
    "size",
    "dur",
    "ratio",
    "x",
    "v",
    "w",
    "5MB",
    "1H",
    "yes",
    "red",
    "1",
    "2",
    "A",
    "B",
    "signal_handlers",
    "data_schema",
    "cancel",
    "name_short_singular",
];

fn arb_key() -> impl Strategy<Value = Key> {
    prop_oneof![
        prop::sample::select(WORDS).prop_map(Key::from),
        (-3i64..5).prop_map(Key::Int),
        "[a-z]{0,3}".prop_map(Key::Str),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-10i64..10).prop_map(Value::Int),
        (-1e6f64..1e6).prop_map(Value::Float),
        "[a-zA-Z0-9 ._%-]{0,8}".prop_map(Value::String),
        prop::sample::select(WORDS).prop_map(|w| Value::String(w.to_string())),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
            prop::collection::btree_map(arb_key(), inner, 0..6).prop_map(Value::Map),
        ]
    })
}

/// Type definitions that are mostly valid, referring to objects A, B, C (and the missing Z).
fn arb_type_def() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just("{type_id: string}"),
        Just("{type_id: string, min: 1, max: 3, pattern: '[a-c]'}"),
        Just("{type_id: integer, min: 0, max: 100}"),
        Just("{type_id: integer, units: {base_unit: {name_short_singular: B, name_short_plural: B, name_long_singular: byte, name_long_plural: bytes}, multipliers: {1024: {name_short_singular: kB, name_short_plural: kB, name_long_singular: kilobyte, name_long_plural: kilobytes}}}}"),
        Just("{type_id: float, max: 1.5}"),
        Just("{type_id: bool}"),
        Just("{type_id: any}"),
        Just("{type_id: pattern}"),
        Just("{type_id: enum_string, values: {red: {}, blue: {}}}"),
        Just("{type_id: enum_integer, values: {1: {}, 2: {}}}"),
        Just("{type_id: ref, id: A}"),
        Just("{type_id: ref, id: B}"),
        Just("{type_id: ref, id: C}"),
        Just("{type_id: ref, id: Z}"),
        Just("{type_id: one_of_string, types: {a: {type_id: ref, id: A}, b: {type_id: ref, id: B}}}"),
        Just("{type_id: one_of_int, discriminator_field_name: k, types: {1: {type_id: ref, id: C}}}"),
    ]
    .prop_map(yaml);
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|items| Value::map_from([("type_id", s("list")), ("items", items)])),
            inner.clone().prop_map(|values| {
                Value::map_from([("type_id", s("map")), ("keys", yaml("{type_id: integer}")), ("values", values)])
            }),
            prop::collection::vec((inner, any::<bool>()), 0..3).prop_map(|props| {
                Value::map_from([("type_id", s("object")), ("id", s("Inline")), ("properties", props_value(props))])
            }),
        ]
    })
}

fn props_value(props: Vec<(Value, bool)>) -> Value {
    Value::map_from(props.into_iter().enumerate().map(|(i, (ty, required))| {
        let key = ["a", "b", "c"].get(i).copied().unwrap_or("z").to_string();
        let mut prop = vec![("type", ty), ("required", Value::Bool(required))];
        if i == 1 {
            prop.push(("conflicts", yaml("[c]")));
        }
        if i == 2 {
            prop.push(("required_if_not", yaml("[a]")));
        }
        (key, Value::map_from(prop))
    }))
}

fn arb_scope_def() -> impl Strategy<Value = Value> {
    prop::collection::vec(prop::collection::vec((arb_type_def(), any::<bool>()), 0..3), 3).prop_map(|objects| {
        let objects = Value::map_from(
            objects
                .into_iter()
                .zip(["A", "B", "C"])
                .map(|(props, id)| (id, Value::map_from([("id", s(id)), ("properties", props_value(props))]))),
        );
        Value::map_from([("root", s("A")), ("objects", objects)])
    })
}

/// Values shaped like the objects above, so validation gets past the first check more often.
fn arb_shaped_value() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        prop::sample::select(&["a", "b", "c", "_type", "k", "kind"][..]).prop_map(Key::from),
        arb_value(),
        0..4,
    )
    .prop_map(Value::Map)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_cbor_never_panics_the_parser(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        seed in arb_value(),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
    ) {
        // Pure noise, and a valid encoding of a schema-ish value with a few bytes changed.
        let mut mutated = Vec::new();
        ciborium::into_writer(&seed.to_cbor(), &mut mutated).expect("encode");
        for (i, b) in flips {
            let len = mutated.len();
            if let Some(slot) = mutated.get_mut(i % len.max(1)) {
                *slot = b;
            }
        }
        for input in [bytes, mutated] {
            if let Ok(c) = ciborium::from_reader::<ciborium::Value, _>(input.as_slice()) {
                let v = Value::from_cbor(&c);
                let _ = PluginSchema::from_value(&v);
                if let Ok(sc) = Scope::from_value(&v) {
                    let _ = sc.expr_type();
                    let _ = sc.validate(&v);
                }
            }
        }
    }

    #[test]
    fn schema_like_values_never_panic_the_parser(v in arb_value()) {
        let _ = PluginSchema::from_value(&v);
        let _ = PluginSchema::from_value(&Value::map_from([("steps", Value::map_from([("s", v.clone())]))]));
        let _ = Scope::from_value(&v);
    }

    #[test]
    fn arbitrary_values_never_panic_validation(v in arb_value(), shaped in arb_shaped_value()) {
        let sc = all_types();
        for input in [v.clone(), Value::map_from([("a", v.clone())]), shaped] {
            let _ = sc.validate(&input);
        }
        for field in ["s", "p", "i", "f", "b", "es", "ei", "l", "m", "mi", "o", "r", "sc", "os", "oi", "size", "dur", "ratio"] {
            if let Ok(out) = sc.validate(&Value::map_from([(field, v.clone())])) {
                // The normalized value is a fixed point: sending it again changes nothing.
                // (Compared as Debug text so that a NaN parsed from "nan" equals itself.)
                prop_assert_eq!(format!("{:?}", sc.validate(&out)), format!("{:?}", Ok::<_, ValidationError>(out)));
            }
        }
    }

    #[test]
    fn generated_schemas_parse_type_and_validate_without_panics(def in arb_scope_def(), v in arb_shaped_value(), w in arb_value()) {
        if let Ok(sc) = Scope::from_value(&def) {
            let _ = sc.expr_type();
            for input in [v, w] {
                if let Ok(out) = sc.validate(&input) {
                    prop_assert_eq!(format!("{:?}", sc.validate(&out)), format!("{:?}", Ok::<_, ValidationError>(out)));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// check_known: values partly known before a run

#[test]
fn unknown_parts_match_any_type_and_count_as_set_while_known_parts_are_checked() {
    let sc = scope(
        r#"
root: R
objects:
  R:
    id: R
    properties:
      n: {type: {type_id: integer, max: 5}}
      s: {type: {type_id: string}}
      l: {type: {type_id: list, items: {type_id: integer}}, required: false}
      o:
        required: false
        type:
          type_id: one_of_string
          types: {a: {type_id: ref, id: A}}
  A: {id: A, properties: {x: {type: {type_id: integer}}}}
"#,
    );
    let with = |pairs: Vec<(&str, Value)>| Value::map_from(pairs);
    // A required field that is unknown is fine; a known one is still checked.
    assert_eq!(sc.check_known(&with(vec![("n", unknown()), ("s", Value::String("x".into()))])), Ok(()));
    let e = sc.check_known(&with(vec![("n", Value::Int(9)), ("s", unknown())])).unwrap_err();
    assert_eq!((e.path, e.message), (p(&["n"]), "Must be at most 5".to_string()));
    // Unknown list items, a whole unknown value, an unknown discriminator.
    assert_eq!(
        sc.check_known(&with(vec![("n", Value::Int(1)), ("s", unknown()), ("l", Value::List(vec![unknown()]))])),
        Ok(())
    );
    assert_eq!(sc.check_known(&unknown()), Ok(()));
    let o = |v: Value| with(vec![("n", Value::Int(1)), ("s", Value::String("x".into())), ("o", v)]);
    assert_eq!(sc.check_known(&o(with(vec![("_type", unknown()), ("x", Value::String("no".into()))]))), Ok(()));
    let e = sc
        .check_known(&o(with(vec![("_type", Value::String("a".into())), ("x", Value::String("no".into()))])))
        .unwrap_err();
    assert_eq!(e.path, p(&["o", "x"]));
    // Unknown fields are still unknown fields.
    let e = sc.check_known(&with(vec![("n", unknown()), ("s", unknown()), ("zz", unknown())])).unwrap_err();
    assert!(e.message.starts_with("Invalid parameter 'zz'"), "{}", e.message);
    // Outside check_known the stand-in is ordinary text.
    let e = sc.validate(&with(vec![("n", unknown()), ("s", Value::String("x".into()))])).unwrap_err();
    assert_eq!(e.path, p(&["n"]));
}
