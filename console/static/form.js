// A form built from a JSON Schema (a tool's inputSchema, a prompt's
// arguments): strings, numbers, integers, booleans, enums, arrays of
// scalars and nested objects get their own inputs; anything else (unions,
// arrays of objects, schemas without a type) a JSON text area. The whole
// value can also be edited as raw JSON.

import {h} from "./dom.js";

// FormError names the field whose value is not valid.
export class FormError extends Error {
  constructor(path, message) {
    super((path || "arguments") + ": " + message);
    this.path = path;
  }
}

const scalarTypes = new Set(["string", "number", "integer", "boolean"]);

function typeOf(schema) {
  if (!schema || typeof schema !== "object") return "";
  let t = schema.type;
  if (Array.isArray(t)) {
    const nonNull = t.filter((x) => x !== "null");
    t = nonNull.length === 1 ? nonNull[0] : "";
  }
  if (!t && schema.enum) return "enum";
  if (!t && schema.properties) return "object";
  if (t && schema.enum) return "enum";
  return t || "";
}

// field builds the input of one value; it returns {el, get}, where get
// returns the value, undefined for an empty optional field, or throws a
// FormError.
function field(schema, path, required) {
  const t = typeOf(schema);
  const def = schema && schema.default;
  if (t === "enum") {
    const options = schema.enum;
    const sel = h("select", {name: path, id: "f-" + path},
      required ? null : h("option", {value: ""}, "—"),
      options.map((v, i) => h("option", {value: String(i), selected: def !== undefined && JSON.stringify(def) === JSON.stringify(v)}, String(v))));
    return {el: sel, get: () => (sel.value === "" ? undefined : options[Number(sel.value)])};
  }
  if (t === "boolean") {
    if (required) {
      const box = h("input", {type: "checkbox", name: path, id: "f-" + path, checked: def === true});
      return {el: box, get: () => box.checked};
    }
    const sel = h("select", {name: path, id: "f-" + path},
      h("option", {value: ""}, "—"),
      h("option", {value: "true", selected: def === true}, "true"),
      h("option", {value: "false", selected: def === false}, "false"));
    return {el: sel, get: () => (sel.value === "" ? undefined : sel.value === "true")};
  }
  if (t === "number" || t === "integer") {
    const input = h("input", {type: "number", name: path, id: "f-" + path, step: t === "integer" ? "1" : "any",
      min: schema.minimum, max: schema.maximum, value: def !== undefined ? String(def) : undefined});
    return {el: input, get: () => {
      const s = input.value.trim();
      if (s === "") {
        if (required) throw new FormError(path, "is required");
        return undefined;
      }
      const n = Number(s);
      if (!Number.isFinite(n)) throw new FormError(path, "is not a number");
      if (t === "integer" && !Number.isInteger(n)) throw new FormError(path, "must be a whole number");
      if (schema.minimum !== undefined && n < schema.minimum) throw new FormError(path, "must be at least " + schema.minimum);
      if (schema.maximum !== undefined && n > schema.maximum) throw new FormError(path, "must be at most " + schema.maximum);
      return n;
    }};
  }
  if (t === "string") {
    const long = (schema.maxLength || 0) > 200 || /\b(content|text|body|code|query)\b/i.test(path.split(".").pop() || "");
    const input = long
      ? h("textarea", {name: path, id: "f-" + path, rows: "3"}, def !== undefined ? String(def) : "")
      : h("input", {type: "text", name: path, id: "f-" + path, value: def !== undefined ? String(def) : undefined,
        placeholder: schema.format || (schema.examples && schema.examples[0]) || ""});
    return {el: input, get: () => {
      if (input.value === "" && !required) return undefined;
      if (input.value === "" && required && def === undefined) throw new FormError(path, "is required");
      return input.value;
    }};
  }
  if (t === "array" && scalarTypes.has(typeOf(schema.items)) || t === "array" && typeOf(schema.items) === "enum") {
    const rows = [];
    const list = h("div", {class: "array", "data-path": path});
    const add = (value) => {
      const i = rows.length;
      const f = field({...schema.items, default: value}, path + "." + i, true);
      const row = h("div", {class: "array-row"}, f.el,
        h("button", {type: "button", class: "small", title: "remove", onclick: () => {
          rows.splice(rows.indexOf(entry), 1);
          row.remove();
        }}, "×"));
      const entry = {row, get: f.get};
      rows.push(entry);
      list.insertBefore(row, addButton);
    };
    const addButton = h("button", {type: "button", class: "small", "data-add": path, onclick: () => add(undefined)}, "+ add");
    list.appendChild(addButton);
    if (Array.isArray(def)) def.forEach(add);
    return {el: list, get: () => {
      const vals = rows.map((r) => r.get()).filter((v) => v !== undefined);
      if (!vals.length && !required) return undefined;
      return vals;
    }};
  }
  if (t === "object" && schema.properties && !schema.oneOf && !schema.anyOf) {
    const sub = objectFields(schema, path);
    const fs = h("fieldset", {class: "nested"}, h("legend", {}, path.split(".").pop()), sub.els);
    return {el: fs, get: () => {
      const v = sub.get();
      if (!Object.keys(v).length && !required) return undefined;
      return v;
    }};
  }
  // Anything else: JSON.
  const area = h("textarea", {name: path, id: "f-" + path, rows: "3", class: "json",
    placeholder: "JSON"}, def !== undefined ? JSON.stringify(def) : "");
  return {el: area, get: () => {
    const s = area.value.trim();
    if (s === "") {
      if (required) throw new FormError(path, "is required (JSON)");
      return undefined;
    }
    try {
      return JSON.parse(s);
    } catch (e) {
      throw new FormError(path, "is not valid JSON: " + e.message);
    }
  }};
}

// objectFields builds the labelled fields of an object schema.
function objectFields(schema, prefix) {
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  const getters = [];
  const els = [];
  for (const [name, sub] of Object.entries(props)) {
    const path = prefix ? prefix + "." + name : name;
    const req = required.has(name);
    const f = field(sub || {}, path, req);
    getters.push([name, f.get]);
    const label = h("label", {for: "f-" + path, class: "field-name"}, name, req ? h("span", {class: "req", title: "required"}, " *") : null);
    const desc = sub && (sub.description || sub.title);
    els.push(h("div", {class: "field", "data-field": path}, label, f.el, desc ? h("div", {class: "hint"}, desc) : null));
  }
  return {els, get: () => {
    const out = {};
    for (const [name, get] of getters) {
      const v = get();
      if (v !== undefined) out[name] = v;
    }
    return out;
  }};
}

// buildForm returns a form for an object schema: {el, value()}, where
// value() returns the arguments (from the fields, or from the raw JSON
// when that is being edited) or throws a FormError.
export function buildForm(schema, {id = "args-form"} = {}) {
  schema = schema && typeof schema === "object" ? schema : {type: "object"};
  const hasFields = schema.properties && Object.keys(schema.properties).length > 0;
  const fields = objectFields(schema, "");
  const raw = h("textarea", {class: "json raw", rows: "8", name: "__raw", spellcheck: "false"});
  const rawBox = h("div", {class: "raw-box", hidden: true}, raw);
  // A schema that says nothing a form can show (unions, free-form
  // objects) starts as raw JSON.
  let useRaw = !hasFields && !!(schema.oneOf || schema.anyOf || schema.allOf || schema.additionalProperties);
  const toggle = h("button", {type: "button", class: "link small", "data-raw-toggle": ""}, "");
  const fieldsBox = h("div", {class: "fields"}, hasFields ? fields.els : h("p", {class: "muted"}, "No arguments."));
  const show = () => {
    rawBox.hidden = !useRaw;
    fieldsBox.hidden = useRaw;
    toggle.textContent = useRaw ? "Edit as a form" : "Edit as JSON";
  };
  toggle.addEventListener("click", () => {
    if (!useRaw) {
      try {
        raw.value = JSON.stringify(fields.get(), null, 2);
      } catch {
        raw.value = raw.value || "{}";
      }
    }
    useRaw = !useRaw;
    show();
  });
  show();
  const el = h("div", {class: "schema-form", id}, fieldsBox, rawBox, h("div", {class: "form-tools"}, toggle));
  return {
    el,
    value() {
      if (!useRaw) return fields.get();
      const s = raw.value.trim() || "{}";
      let v;
      try {
        v = JSON.parse(s);
      } catch (e) {
        throw new FormError("", "is not valid JSON: " + e.message);
      }
      if (!v || typeof v !== "object" || Array.isArray(v)) throw new FormError("", "must be a JSON object");
      return v;
    },
  };
}
