package plugin

// One function per export: call the registered provider with decoded
// arguments and encode its answer. Shared by the wasm exports and the tests.

func provider() (Provider, error) {
	if registered == nil {
		return nil, errNotRegistered
	}
	return registered, nil
}

func callGetServerData() *encoder {
	p, err := provider()
	if err != nil {
		return encodeServers(nil, err)
	}
	return encodeServers(p.GetServerData())
}

func callGetUserData(server string) *encoder {
	p, err := provider()
	if err != nil {
		return encodeUsers(nil, err)
	}
	return encodeUsers(p.GetUserData(server))
}

func callStaticRequest(path string) *encoder {
	p, err := provider()
	if err != nil {
		return encodeStaticResponse(nil, err)
	}
	return encodeStaticResponse(p.StaticRequest(path))
}

func callValidateDiscordUser(token string, user DiscordUser, server string) *encoder {
	p, err := provider()
	if err != nil {
		return encodeBool(false, err)
	}
	return encodeBool(p.ValidateDiscordUser(token, user, server))
}

func callGetClientID(server string) *encoder {
	p, err := provider()
	if err != nil {
		return encodeOptionString(nil, err)
	}
	return encodeOptionString(p.GetClientID(server))
}

func callTimers() *encoder {
	p, err := provider()
	if err != nil {
		// timers cannot fail; a plugin without a provider wants none.
		return encodeTimers(nil)
	}
	return encodeTimers(p.Timers())
}

func callOnTimer(name string, servers []string) *encoder {
	p, err := provider()
	if err != nil {
		return encodeEvents(nil, err)
	}
	return encodeEvents(p.OnTimer(name, servers))
}
