// The config provider: servers, members and client ids straight from the
// operator's configuration, and a timed presence rotation. Its behaviour is
// specified in plugins/CONFIG-PROVIDER.md, which the Rust, Python and Go
// versions follow too: any difference in answers is a bug.
//
// componentize-js maps the WIT types like this: a returned value is `ok`, a
// returned `{ tag: 'err', val }` is `err`; `undefined` is `none`; enums are
// their case names as strings; records are objects with camelCase fields;
// variants are `{ tag, val }`. A thrown `Error` is NOT turned into `err`: it
// traps the instance (only a thrown string becomes `err`), so every expected
// failure below is returned instead.

import { configGet, log } from 'd-back:plugin/host@0.1.0';

const PRESENCE_TIMER = 'presence';

// Presence order the timed rotation walks through.
const STATUSES = ['online', 'idle', 'dnd', 'offline'];

// Color of members whose config names none (Discord's neutral grey).
const NEUTRAL_COLOR = '#99aab5';

// Largest value of the WIT `u32` a timer interval is.
const U32_MAX = 0xffffffff;

// The parsed configuration, read from the host on first use. Top-level code
// runs once at build time (the component is a snapshot of the initialised
// module), when there is no configuration yet, so it must not be read there.
// Per instance it cannot change, and parsing it on every call would dominate
// the cost of answering. Holds `{ servers, clientId }` or `{ error }`.
let cached;

// Firings of the presence timer handled by this instance (`n` in the spec).
// A fresh instance starts the rotation again, which is harmless for a demo.
let firings = 0;

/** Thrown by the parsers below, turned into `err` before leaving the module. */
class ConfigError extends Error {}

function config() {
  if (cached === undefined) {
    cached = loadConfig();
  }
  return cached;
}

function loadConfig() {
  const text = configGet('servers');
  if (text === undefined) {
    return { error: 'config key `servers` is not set' };
  }
  let servers;
  try {
    servers = parseServers(JSON.parse(text));
  } catch (e) {
    // A SyntaxError from JSON.parse or a ConfigError from the checks.
    return { error: `config key \`servers\` is not valid: ${e.message}` };
  }
  return { servers, clientId: configGet('client_id') };
}

// Strict checks: a value of the wrong type anywhere makes the whole list
// invalid rather than being skipped or coerced, so an operator's typo shows
// up in the log instead of as a silently missing server or member. Fields
// not listed in the spec are ignored. For the fields that may be left out
// without a fixed default (name, password, passworded, client_id, color),
// JSON `null` counts as left out.

function parseServers(value) {
  if (!Array.isArray(value)) {
    throw new ConfigError(`expected a list of servers, found ${typeName(value)}`);
  }
  return value.map((entry, i) => {
    try {
      return parseServer(entry);
    } catch (e) {
      throw new ConfigError(`server ${i}: ${e.message}`);
    }
  });
}

function parseServer(entry) {
  expectObject(entry, 'a server');
  // Checked in the spec's order, so the first problem is the one reported.
  const snowflake = required(entry, 'snowflake', 'string');
  const id = required(entry, 'id', 'string');
  const name = optional(entry, 'name', 'string') ?? id;
  const isDefault = withDefault(entry, 'default', 'boolean', false);
  const password = optional(entry, 'password', 'string');
  const allowedUsers = withDefault(entry, 'allowed_users', 'list', []);
  allowedUsers.forEach((uid, i) => {
    if (typeof uid !== 'string') {
      throw new ConfigError(`\`allowed_users\` ${i}: expected a string, found ${typeName(uid)}`);
    }
  });
  const passworded =
    optional(entry, 'passworded', 'boolean') ?? (password !== undefined || allowedUsers.length > 0);
  const clientId = optional(entry, 'client_id', 'string');
  const users = withDefault(entry, 'users', 'list', []).map((user, i) => {
    try {
      return parseUser(user);
    } catch (e) {
      throw new ConfigError(`user ${i}: ${e.message}`);
    }
  });
  return { snowflake, id, name, isDefault, password, allowedUsers, passworded, clientId, users };
}

function parseUser(entry) {
  expectObject(entry, 'a user');
  const uid = required(entry, 'uid', 'string');
  const username = required(entry, 'username', 'string');
  const status = withDefault(entry, 'status', 'string', 'offline');
  if (!STATUSES.includes(status)) {
    throw new ConfigError(`\`status\`: expected one of ${STATUSES.join(', ')}, found "${status}"`);
  }
  // Only the type is checked, like the other versions: a color that is not
  // `#rrggbb` reaches the host, which refuses that member list and logs why.
  const roleColor = optional(entry, 'color', 'string') ?? NEUTRAL_COLOR;
  return { uid, username, status, roleColor };
}

function expectObject(value, what) {
  if (typeName(value) !== 'an object') {
    throw new ConfigError(`expected ${what} (an object), found ${typeName(value)}`);
  }
}

function required(entry, key, type) {
  if (!Object.hasOwn(entry, key)) {
    throw new ConfigError(`\`${key}\` is missing`);
  }
  return checked(entry, key, type);
}

function optional(entry, key, type) {
  if (!Object.hasOwn(entry, key) || entry[key] === null) {
    return undefined;
  }
  return checked(entry, key, type);
}

function withDefault(entry, key, type, fallback) {
  return Object.hasOwn(entry, key) ? checked(entry, key, type) : fallback;
}

function checked(entry, key, type) {
  const value = entry[key];
  const ok = type === 'list' ? Array.isArray(value) : typeof value === type;
  if (!ok) {
    throw new ConfigError(`\`${key}\`: expected a ${type}, found ${typeName(value)}`);
  }
  return value;
}

/** How a JSON value is named in error messages. */
function typeName(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'object':
      return 'an object';
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    default:
      return typeof value;
  }
}

function findServer(servers, snowflake) {
  return servers.find((s) => s.snowflake === snowflake);
}

/** The presence timer's interval, when the operator asked for a usable one. */
function presenceIntervalMs() {
  const text = configGet('presence_interval_ms');
  if (text === undefined) {
    return undefined;
  }
  // Decimal digits only (an optional `+`), like an unsigned integer parse:
  // Number() alone would also accept "1e3", "0x1f" or "".
  const digits = text.trim();
  const ms = /^\+?[0-9]+$/.test(digits) ? Number(digits) : NaN;
  if (ms >= 100 && ms <= U32_MAX) {
    return ms;
  }
  log(
    'warn',
    `config key \`presence_interval_ms\` must be an integer of at least 100, got \`${text}\`: no presence timer`,
  );
  return undefined;
}

/** `ok(f(config))`, or `err` when the configuration is unusable. */
function withConfig(f) {
  const c = config();
  return c.error !== undefined ? { tag: 'err', val: c.error } : f(c);
}

export const callbacks = {
  getServerData() {
    return withConfig(({ servers }) =>
      servers.map((s) => ({
        snowflake: s.snowflake,
        id: s.id,
        name: s.name,
        passworded: s.passworded,
        isDefault: s.isDefault,
        password: s.password,
      })),
    );
  },

  getUserData(snowflake) {
    return withConfig(({ servers }) => {
      const server = findServer(servers, snowflake);
      if (server === undefined) {
        return [];
      }
      // Parsed users already have the shape of the WIT `user` record.
      return server.users;
    });
  },

  staticRequest(_path) {
    // The host serves its static files.
    return undefined;
  },

  validateDiscordUser(token, user, snowflake) {
    // No network here, so the token cannot be checked with Discord: the id
    // the browser claims is trusted (see the spec).
    return withConfig(({ servers }) => {
      const server = findServer(servers, snowflake);
      return server !== undefined && token !== '' && server.allowedUsers.includes(user.id);
    });
  },

  getClientId(snowflake) {
    return withConfig(({ servers, clientId }) => findServer(servers, snowflake)?.clientId ?? clientId);
  },
};

export const activity = {
  timers() {
    const intervalMs = presenceIntervalMs();
    return intervalMs === undefined ? [] : [{ name: PRESENCE_TIMER, intervalMs }];
  },

  onTimer(name, watched) {
    if (name !== PRESENCE_TIMER) {
      return [];
    }
    const n = firings++;
    return withConfig(({ servers }) => {
      const events = [];
      for (const snowflake of watched) {
        const server = findServer(servers, snowflake);
        if (server === undefined || server.users.length === 0) {
          continue;
        }
        const len = server.users.length;
        const user = server.users[n % len];
        const step = (STATUSES.indexOf(user.status) + 1 + Math.floor(n / len)) % STATUSES.length;
        events.push({
          tag: 'presence',
          val: {
            server: server.snowflake,
            uid: user.uid,
            status: STATUSES[step],
            username: user.username,
            roleColor: user.roleColor,
            remove: false,
          },
        });
      }
      return events;
    });
  },
};
