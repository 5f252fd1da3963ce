//go:build wasip1 && wasm

package plugin

// The exports of the `provider` world, under the names wit-component
// expects, and their post-return functions. Each copies its arguments out
// of the memory the host filled, calls the registered provider and returns
// the address of its answer.

import "fmt"

// guard runs deferred in every export. A panic is not turned into an `err`
// answer: it is logged with host.log at error level, naming the callback,
// and goes on. Go's runtime then prints the panic and its stack to stderr
// (which the host logs too) and aborts with an `unreachable` trap; the host
// contains the trap and discards the instance.
func guard(callback string) {
	if r := recover(); r != nil {
		Log(LevelError, "panic in "+callback+": "+fmt.Sprint(r))
		panic(r)
	}
}

// argString copies a string argument.
func argString(ptr, n uint32) string {
	return loadString(mem, ptr, n)
}

//go:wasmexport d-back:plugin/callbacks@0.1.0#get-server-data
func exportGetServerData() uint32 {
	defer guard("get-server-data")
	releaseIncoming()
	return answer(callGetServerData())
}

//go:wasmexport cabi_post_d-back:plugin/callbacks@0.1.0#get-server-data
func postGetServerData(ptr uint32) { postReturn(ptr) }

//go:wasmexport d-back:plugin/callbacks@0.1.0#get-user-data
func exportGetUserData(serverPtr, serverLen uint32) uint32 {
	defer guard("get-user-data")
	server := argString(serverPtr, serverLen)
	releaseIncoming()
	return answer(callGetUserData(server))
}

//go:wasmexport cabi_post_d-back:plugin/callbacks@0.1.0#get-user-data
func postGetUserData(ptr uint32) { postReturn(ptr) }

//go:wasmexport d-back:plugin/callbacks@0.1.0#static-request
func exportStaticRequest(pathPtr, pathLen uint32) uint32 {
	defer guard("static-request")
	path := argString(pathPtr, pathLen)
	releaseIncoming()
	return answer(callStaticRequest(path))
}

//go:wasmexport cabi_post_d-back:plugin/callbacks@0.1.0#static-request
func postStaticRequest(ptr uint32) { postReturn(ptr) }

// The arguments flatten to ten i32s: token (ptr, len), the three strings of
// the discord-user record, server (ptr, len).
//
//go:wasmexport d-back:plugin/callbacks@0.1.0#validate-discord-user
func exportValidateDiscordUser(tokenPtr, tokenLen, idPtr, idLen, namePtr, nameLen, rawPtr, rawLen, serverPtr, serverLen uint32) uint32 {
	defer guard("validate-discord-user")
	token := argString(tokenPtr, tokenLen)
	user := DiscordUser{
		ID:       argString(idPtr, idLen),
		Username: argString(namePtr, nameLen),
		RawJSON:  argString(rawPtr, rawLen),
	}
	server := argString(serverPtr, serverLen)
	releaseIncoming()
	return answer(callValidateDiscordUser(token, user, server))
}

//go:wasmexport cabi_post_d-back:plugin/callbacks@0.1.0#validate-discord-user
func postValidateDiscordUser(ptr uint32) { postReturn(ptr) }

//go:wasmexport d-back:plugin/callbacks@0.1.0#get-client-id
func exportGetClientID(serverPtr, serverLen uint32) uint32 {
	defer guard("get-client-id")
	server := argString(serverPtr, serverLen)
	releaseIncoming()
	return answer(callGetClientID(server))
}

//go:wasmexport cabi_post_d-back:plugin/callbacks@0.1.0#get-client-id
func postGetClientID(ptr uint32) { postReturn(ptr) }

//go:wasmexport d-back:plugin/activity@0.1.0#timers
func exportTimers() uint32 {
	defer guard("timers")
	releaseIncoming()
	return answer(callTimers())
}

//go:wasmexport cabi_post_d-back:plugin/activity@0.1.0#timers
func postTimers(ptr uint32) { postReturn(ptr) }

//go:wasmexport d-back:plugin/activity@0.1.0#on-timer
func exportOnTimer(namePtr, nameLen, serversPtr, serversLen uint32) uint32 {
	defer guard("on-timer")
	name := argString(namePtr, nameLen)
	servers := loadStringList(mem, serversPtr, serversLen)
	releaseIncoming()
	return answer(callOnTimer(name, servers))
}

//go:wasmexport cabi_post_d-back:plugin/activity@0.1.0#on-timer
func postOnTimer(ptr uint32) { postReturn(ptr) }
