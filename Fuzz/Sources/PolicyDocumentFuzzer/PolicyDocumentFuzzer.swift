import Foundation
import FuzzDriver
import WardenCore
import WardenMQTT
import WardenPolicy

/// A tenant's policy document, as it will arrive through the API: `PolicyDocument(text:)` (JSON, or YAML when
/// it does not start with `{`) with every statement, principal, resource template and condition it holds.
///
/// Invariants besides not crashing: a refusal is `policy_document.invalid`; an accepted document's engine
/// decides a device's PUBLISH, SUBSCRIBE and CONNECT (a device id and attributes holding wildcards among them),
/// in a context that knows nothing and in one that knows everything its conditions can ask (TLS, certificate,
/// age, size, rate, a nested reported section, an unsynchronised clock), under the document's tolerance, and
/// names the deciding statement whenever it allows.
/// The executable's entry point (SwiftPM's name for `main`): libFuzzer's driver with this target's input.
@_cdecl("PolicyDocumentFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let document: PolicyDocument
    do {
        document = try PolicyDocument(text: UnsafeBufferPointer(start: data, count: size))
    } catch {
        precondition(error.code == .policyInvalidDocument, "a refusal is policy_document.invalid")
        return 0
    }
    let engine = PolicyEngine(document)
    guard let id = try? DeviceID("+#$"), let group = try? GroupName("g"),
        let filter = try? TopicFilter("devices/+/messages/devicebound/#")
    else { preconditionFailure("the fuzzer's own values") }
    let requestor = PolicyRequestor(
        tenantID: .defaultTenant,
        kind: .device(.init(id: id, groups: [group], attributes: ["floor": "#", "role": "a/b"])))
    let requests: [(PolicyAction, AuthorizationRequest.Resource?)] = [
        (.publish, .topic("floors/#/x")), (.subscribe, .filter(filter)), (.connect, nil),
    ]
    var known = PolicyContext(protocolName: "mqtt-ws", now: Date(timeIntervalSince1970: 1_800_000_000))
    known.clockIsSynchronized = false
    known.tlsVersion = "1.3"
    known.certificate = PresentedCertificate(
        issuer: "CN=a,O=b", issuerCommonName: "a", notValidAfter: Date(timeIntervalSince1970: -1e12))
    known.connectedAt = Date(timeIntervalSince1970: 1e15)
    known.payloadSize = .max
    known.messageRate = .greatestFiniteMagnitude
    known.reported = ["a": ["b": ["c": .double(-0.0)], "list": [.null, .number(.min)]], "n": .number(.max)]
    for (action, resource) in requests {
        for context in [PolicyContext(), known] {
            let decision = engine.decide(requestor, action, resource, in: context)
            precondition(!decision.isAllowed || decision.statementID != nil, "an allow names its statement")
        }
    }
    return 0
}
