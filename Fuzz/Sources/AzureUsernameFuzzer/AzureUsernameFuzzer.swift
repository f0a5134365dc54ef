import FuzzDriver
import WardenAzure
import WardenCore

/// The MQTT usernames devices and services send at CONNECT: Azure's device forms and the service form.
///
/// Invariant besides not crashing: a parsed device username names a valid device id and a lowercased host,
/// and formatting it back in the canonical form parses to the same identity.
/// The executable's entry point (SwiftPM's name for `main`): libFuzzer's driver with this target's input.
@_cdecl("AzureUsernameFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let username = AzureUsername(text) {
        precondition(username.hostName == username.hostName.lowercased(), "the host is lowercased")
        let canonical = "\(username.hostName)/\(username.deviceID.rawValue)/?api-version=2021-04-12"
        guard let again = AzureUsername(canonical) else { preconditionFailure("the canonical form must parse") }
        precondition(again.deviceID == username.deviceID && again.hostName == username.hostName, "round trip")
    }
    _ = ServiceUsername(text)
    _ = HubUsername(text)
    if let registration = ProvisioningUsername(text) {
        precondition(HubUsername(text) == nil, "a DPS username is never a hub one")
        let again = ProvisioningUsername(registration.resource + "/api-version=2019-03-31")
        precondition(again == registration, "a DPS username's canonical form reads as itself")
    }
    return 0
}
