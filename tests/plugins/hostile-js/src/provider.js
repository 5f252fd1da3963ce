// A provider that fails the way JavaScript code fails: an uncaught TypeError
// from reading a property of `undefined`, not a deliberate `err`. The host
// must contain it: log plugin, callback and cause, answer with the safe
// value, throw the instance away and keep serving.
//
// componentize-js turns a thrown `Error` (a TypeError included) into a trap
// of the instance, in every export: a throw becomes `err` only when the
// thrown value is a string, or has its own `payload` property holding one.
// So both `get-user-data` (which could return `err`) and `on-timer` trap
// here, and `timers` answers normally so that the timer gets to fire.

const SNOWFLAKE = '700000000000000001';

// componentize-js turns a thrown Error into a trap, and the Error's message
// never leaves the engine. This is what the starter does about it: each
// export writes what it throws to stderr (the host logs it at WARN, tagged
// with the plugin) and throws on, so the call still fails as it should.
function reportingThrows(exports) {
  return Object.fromEntries(
    Object.entries(exports).map(([name, body]) => [
      name,
      (...args) => {
        try {
          return body(...args);
        } catch (error) {
          if (typeof error !== 'string') {
            // `String(error)` is "TypeError: …"; the stack has no message.
            console.error(`uncaught exception in ${name}: ${error}\n${error?.stack ?? ''}`);
          }
          throw error;
        }
      },
    ]),
  );
}

// Member lists by server. Empty on purpose: the lookups below find nothing,
// and code that forgot to handle that crashes.
const ROSTERS = new Map();

export const callbacks = reportingThrows({
  getServerData() {
    return [
      {
        snowflake: SNOWFLAKE,
        id: 'hostile',
        name: 'Hostile JS',
        passworded: false,
        isDefault: true,
      },
    ];
  },

  getUserData(server) {
    // TypeError: ROSTERS.get(server) is undefined.
    return ROSTERS.get(server).members;
  },

  staticRequest(_path) {
    return undefined;
  },

  validateDiscordUser(_token, _user, _server) {
    return false;
  },

  getClientId(_server) {
    return undefined;
  },
});

export const activity = reportingThrows({
  timers() {
    return [{ name: 'boom', intervalMs: 200 }];
  },

  onTimer(_name, servers) {
    // TypeError as well: no roster to pick an active member from.
    return servers.map((server) => ROSTERS.get(server).members[0].presence);
  },
});
