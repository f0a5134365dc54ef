import FuzzDriver
import WardenAzure

/// The topic of every PUBLISH a device sends, read by `AzureTopic` before the hub acts on it, and every topic
/// and filter `HubFeature` classes for the policy's hub actions.
///
/// Invariants besides not crashing: a topic that reads as one of the dialect's is written back as text that
/// reads as the same topic; a device topic of the dialect is classed as its feature.
/// The executable's entry point (SwiftPM's name for `main`): libFuzzer's driver with this target's input.
@_cdecl("AzureTopicFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let feature = HubFeature(text)
    if let topic = AzureTopic(text) {
        precondition(AzureTopic(topic.name) == topic, "a topic written back reads as itself")
        switch topic {
        case .telemetry: precondition(feature == .telemetry, "telemetry is classed as telemetry")
        case .cloudToDevice: precondition(feature == .cloudToDevice, "cloud-to-device is classed as such")
        case .twinGet: precondition(feature == .twinGet, "a twin GET is classed as such")
        case .twinReportedPatch: precondition(feature == .twinReportedPatch, "a reported patch is classed as such")
        default: break
        }
    }
    if let request = ProvisioningRequest(topic: text) {
        let again = ProvisioningRequest(topic: ProvisioningRequest.registerPrefix + "$rid=" + request.requestID)
        precondition(again == .register(requestID: request.requestID), "a request id is echoed as it was read")
        precondition(ProvisioningRequest(topic: ProvisioningRequest.responseTopic(
            status: 200, requestID: request.requestID, retryAfter: 1)) == nil, "a response is never a request")
    }
    return 0
}
