/**
 * Docker image references (`distribution/reference`'s grammar), checked at admission so a typo
 * is a 422 naming `container.docker.image` rather than a task that fails at pull time:
 *
 *   reference := name [":" tag] ["@" digest]
 *   name      := [registry "/"] path-component ["/" path-component]*
 *   registry  := host [":" port]      (host: DNS name or [IPv6])
 */

/** `reference.NameTotalLengthMax`. */
const NAME_MAX = 255;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_PART = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const REGISTRY = new RegExp(`^(?:${DOMAIN_PART}(?:\\.${DOMAIN_PART})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
/** Registries address content by sha256; other algorithms parse in Docker but no registry serves them. */
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** What is wrong with an image reference, or undefined when Docker would accept it. */
export function imageProblem(image: string): string | undefined {
  if (image === "") return "must not be empty";
  if (/\s/.test(image)) return "must not contain whitespace";
  const at = image.indexOf("@");
  const digest = at < 0 ? undefined : image.slice(at + 1);
  if (digest !== undefined && !DIGEST.test(digest)) return `digest '${digest}' must be 'sha256:' followed by 64 lowercase hex digits`;
  const named = at < 0 ? image : image.slice(0, at);
  // A ':' after the last '/' starts the tag; one before it belongs to the registry's port.
  const colon = named.lastIndexOf(":");
  const tagged = colon > named.lastIndexOf("/");
  const name = tagged ? named.slice(0, colon) : named;
  if (tagged) {
    const tag = named.slice(colon + 1);
    if (tag === "") return "must not end with ':'; give a tag after it or leave the ':' out";
    if (!TAG.test(tag)) return `tag '${tag}' must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'`;
  }
  return nameProblem(name);
}

function nameProblem(name: string): string | undefined {
  if (name === "") return "must name a repository";
  if (name.length > NAME_MAX) return `repository name must be at most ${NAME_MAX} characters`;
  const components = name.split("/");
  // The first of several components may be a registry host, which (unlike a path) may use uppercase.
  const first = components[0] ?? "";
  if (components.length > 1 && !PATH_COMPONENT.test(first) && REGISTRY.test(first)) return pathProblem(components.slice(1));
  if (components.length > 1 && first.includes(":")) return `registry '${first}' must be a host name or [IPv6] address with an optional :port`;
  return pathProblem(components);
}

function pathProblem(components: string[]): string | undefined {
  for (const c of components) {
    if (c === "") return "must not contain an empty path component (a leading, trailing or doubled '/')";
    if (PATH_COMPONENT.test(c)) continue;
    if (PATH_COMPONENT.test(c.toLowerCase())) return `repository path '${c}' must be lowercase`;
    return `repository path '${c}' must be lowercase letters and digits separated by '.', '_', '__' or '-'`;
  }
  return undefined;
}
