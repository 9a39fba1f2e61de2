/**
 * What a tool asks for against the defaults and its grant, and the shared schema definitions an action's
 * schema is compiled with. Pure functions; the lifecycle through the CLI is in docker-lifecycle.test.ts.
 */
import { describe, expect, it } from "vitest";
import { askedItems, asksOf, DEFAULT_PERMISSIONS, effectivePermissions, isCovered } from "../src/domain/permissions.js";
import { parseManifest } from "../src/manifest/load.js";
import { definitionClosure, definitionRefs, withDefinitions } from "../src/schema/defs.js";
import { compileValidatorCode } from "../src/schema/compile.js";
import { loadValidator } from "../src/schema/validator.js";

const docker = (permissions: Record<string, unknown> = {}) => ({ runtime: "docker", requiresApproval: false, definition: { image: "x:1", permissions } });

describe("permissions", () => {
  it("needs no grant within the defaults", () => {
    const asks = asksOf(docker());
    expect(asks.permissions).toEqual(DEFAULT_PERMISSIONS);
    expect(isCovered(asks, null, false)).toBe(true);
    expect(askedItems(asks, null).every((item) => !item.needsGrant)).toBe(true);
  });

  it("needs a grant for network, or more memory, CPU, processes or storage, but not for a longer timeout", () => {
    for (const more of [{ network: true }, { memoryMb: 1024 }, { cpus: 2 }, { pids: 1000 }, { storageMb: 500 }]) {
      const asks = asksOf(docker(more));
      expect(isCovered(asks, null, false), JSON.stringify(more)).toBe(false);
      expect(
        askedItems(asks, null)
          .filter((item) => item.needsGrant)
          .map((item) => item.name),
      ).toEqual(Object.keys(more));
    }
    expect(isCovered(asksOf(docker({ timeoutSeconds: 600 })), null, false)).toBe(true);
  });

  it("is covered by a grant of as much or more, and not by a grant of less", () => {
    const granted = asksOf(docker({ network: true, memoryMb: 1024 }));
    expect(isCovered(asksOf(docker({ network: true, memoryMb: 1024 })), granted, false)).toBe(true);
    expect(isCovered(asksOf(docker({ network: true, memoryMb: 768 })), granted, false)).toBe(true);
    expect(isCovered(asksOf(docker({ network: true, memoryMb: 2048 })), granted, false)).toBe(false);
  });

  it("asks a process tool for its sandbox only when it names an image; an imported API for its hosts", () => {
    expect(asksOf({ runtime: "process", requiresApproval: false, definition: {} })).toEqual({});
    expect(asksOf({ runtime: "process", requiresApproval: false, definition: { image: "x:1" } }).permissions).toEqual(effectivePermissions(undefined));
    const api = {
      runtime: "http",
      requiresApproval: true,
      definition: { baseUrl: "https://api.example.com/v1", http: { allowedHosts: ["files.example.com"] } },
    };
    const asks = asksOf(api);
    expect(asks.hosts).toEqual(["api.example.com", "files.example.com"]);
    expect(isCovered(asks, null, true)).toBe(false);
    expect(isCovered(asks, { hosts: ["api.example.com", "files.example.com"] }, true)).toBe(true);
    expect(isCovered(asksOf({ ...api, definition: { ...api.definition, baseUrl: "https://evil.example.net" } }), asks, true)).toBe(false);
  });
});

describe("shared definitions ($defs)", () => {
  const definitions = {
    Pet: {
      type: "object",
      required: ["name"],
      properties: { name: { type: "string" }, owner: { $ref: "#/$defs/Person" }, tags: { type: "array", items: { $ref: "#/$defs/Tag" } } },
    },
    Person: { type: "object", properties: { pets: { type: "array", items: { $ref: "#/$defs/Pet" } } } },
    Tag: { type: "string" },
    Unused: { type: "number" },
    "a~b/c": { type: "boolean" },
  };

  it("finds every definition a schema reaches, through cycles, and the ones missing", () => {
    expect(definitionRefs({ properties: { p: { $ref: "#/$defs/Pet" }, q: { $ref: "#/$defs/Pet/properties/name" } } })).toEqual(["Pet"]);
    expect(definitionClosure({ $ref: "#/$defs/Pet" }, definitions)).toEqual({ names: ["Person", "Pet", "Tag"], missing: [] });
    expect(definitionClosure({ $ref: "#/$defs/a~0b~1c" }, definitions).names).toEqual(["a~b/c"]);
    expect(definitionClosure({ $ref: "#/$defs/Nope" }, definitions).missing).toEqual(["Nope"]);
    expect(definitionClosure({ $ref: "#/$defs/toString" }, definitions).missing).toEqual(["toString"]);
    // A schema's own $defs answer its own references.
    expect(definitionClosure({ $defs: { Own: {} }, $ref: "#/$defs/Own" }, definitions)).toEqual({ names: [], missing: [] });
  });

  it("compiles an action's schema with just what it reaches, recursion included", () => {
    const schema = withDefinitions({ type: "object", properties: { pet: { $ref: "#/$defs/Pet" } } }, definitions);
    expect(Object.keys(schema.$defs as object).sort()).toEqual(["Person", "Pet", "Tag"]);
    const validate = loadValidator(compileValidatorCode(schema));
    expect(validate({ pet: { name: "rex", owner: { pets: [{ name: "tom", tags: ["cat"] }] } } })).toEqual([]);
    expect(validate({ pet: { name: "rex", owner: { pets: [{ tags: [1] }] } } }).length).toBeGreaterThan(0);
  });

  it("lets a manifest share definitions between actions, and names a reference to a missing one", () => {
    const manifest = (ref: string) =>
      JSON.stringify({
        apiVersion: "toolctl/v1",
        name: "pets",
        description: "d",
        runtime: "echo",
        definitions: { Pet: definitions.Pet, Person: definitions.Person, Tag: definitions.Tag },
        actions: { add: { description: "d", kind: "create", inputSchema: { type: "object", properties: { pet: { $ref: ref } } } } },
      });
    expect(parseManifest(manifest("#/$defs/Pet"), "pets.json").manifest.definitions?.Pet).toBeDefined();
    expect(() => parseManifest(manifest("#/$defs/Cat"), "pets.json")).toThrow(/actions\.add\.inputSchema.*Cat/);
  });
});
