// The smallest useful d-back provider: one server whose members come from
// the plugin's config (`members = "alice,bob"`), and a greeting every
// `greet_ms` milliseconds when set.
//
// The module exports one object per exported WIT interface (`callbacks`,
// `activity`), with the functions in camelCase. See README.md for how WIT
// types look in JavaScript.

import { configGet, log } from 'd-back:plugin/host@0.1.0';

const SNOWFLAKE = '100000000000000001';

export const callbacks = {
  getServerData() {
    // A plain return value is `ok`. `password` is left out: `none`.
    return [
      {
        snowflake: SNOWFLAKE,
        id: 'hello',
        name: 'Hello from JavaScript',
        passworded: false,
        isDefault: true,
      },
    ];
  },

  getUserData(server) {
    if (server !== SNOWFLAKE) {
      return [];
    }
    const names = (configGet('members') ?? 'alice,bob')
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '');
    if (names.length === 0) {
      // An `err`: the host logs the reason and shows no members.
      return { tag: 'err', val: 'config key `members` names nobody' };
    }
    return names.map((username, i) => ({
      uid: String(1000 + i),
      username,
      status: 'online',
      roleColor: '#7289da',
    }));
  },

  staticRequest(_path) {
    // `undefined` is `none`: the host serves its own static files.
    return undefined;
  },

  validateDiscordUser(_token, _user, _server) {
    return false;
  },

  getClientId(_server) {
    return configGet('client_id');
  },
};

export const activity = {
  timers() {
    const everyMs = Number.parseInt(configGet('greet_ms') ?? '', 10);
    // The host refuses intervals under 100 ms.
    return everyMs >= 100 ? [{ name: 'greet', intervalMs: everyMs }] : [];
  },

  onTimer(_name, servers) {
    log('debug', 'greeting');
    return servers.map((server) => ({
      tag: 'message',
      val: { server, uid: '1000', message: 'hello!', channel: '1' },
    }));
  },
};
