import Foundation
import Testing
import WardenCore
import WardenPolicy

/// The conditions on what a connection shows beyond its address: TLS version, client certificate, age,
/// payload size, message rate and the device twin's reported properties; and what each makes of a value the
/// context does not know, under `balanced` and `strict`.
struct ContextConditionTests {
    let device: PolicyRequestor
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    init() throws {
        device = PolicyRequestor(tenantID: .defaultTenant, kind: .device(.init(id: try DeviceID("d"))))
    }

    /// One allow statement on `t/#` with `conditions`, then `extra` statements.
    private func engine(_ conditions: String, tolerance: String = "balanced", extra: String = "") throws
        -> PolicyEngine
    {
        PolicyEngine(
            try PolicyDocument(
                json: Array(
                    """
                    {"tolerance": "\(tolerance)", "statements": [
                      {"id": "when", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["publish"],
                       "resources": ["t/#"], "conditions": \(conditions)}\(extra)
                    ]}
                    """.utf8)))
    }

    private func allows(_ engine: PolicyEngine, _ context: PolicyContext) -> Bool {
        engine.decide(device, .publish, .topic("t/x"), in: context).isAllowed
    }

    @Test func tlsVersions() throws {
        let engine = try engine(#"{"tls-versions": ["1.3"]}"#)
        var context = PolicyContext()
        #expect(!allows(engine, context))
        context.tlsVersion = "1.2"
        #expect(!allows(engine, context))
        context.tlsVersion = "1.3"
        #expect(allows(engine, context))
        let plain = try self.engine(#"{"tls-versions": ["none"]}"#)
        context.tlsVersion = "none"
        #expect(allows(plain, context))
    }

    @Test func certificateIssuerAndDaysToExpiry() throws {
        let engine = try engine(
            #"{"certificate": {"issuers": ["Fleet CA", "CN=Other,O=Example"], "days-to-expiry": {"at-least": 30}}}"#)
        var context = PolicyContext(now: start)
        let decision = engine.decide(device, .publish, .topic("t/x"), in: context)
        #expect(!decision.isAllowed)
        #expect(decision.reasons.contains { $0.contains("no client certificate was presented") })
        context.certificate = PresentedCertificate(
            issuer: "CN=Fleet CA,O=Example", issuerCommonName: "Fleet CA",
            notValidAfter: start.addingTimeInterval(90 * 86_400))
        #expect(allows(engine, context))
        context.certificate = PresentedCertificate(
            issuer: "CN=Fleet CA,O=Example", issuerCommonName: "Fleet CA",
            notValidAfter: start.addingTimeInterval(29.5 * 86_400))
        let soon = engine.decide(device, .publish, .topic("t/x"), in: context)
        #expect(!soon.isAllowed)
        #expect(soon.reasons.contains { $0.contains("29 days to expiry are not at least 30") })
        context.certificate = PresentedCertificate(
            issuer: "CN=Other,O=Example", issuerCommonName: "Other", notValidAfter: start.addingTimeInterval(1e8))
        #expect(allows(engine, context))
        context.certificate = PresentedCertificate(
            issuer: "CN=Fleet CA,O=Elsewhere", issuerCommonName: "Impostor",
            notValidAfter: start.addingTimeInterval(1e8))
        #expect(!allows(engine, context))
    }

    @Test func connectionAgePayloadSizeAndMessageRate() throws {
        let engine = try engine(
            #"{"connection-age": {"at-least": "1m", "at-most": 3600}, "payload-size": {"at-most": 1024},"#
                + #" "message-rate": {"at-most": 10}}"#)
        var context = PolicyContext(now: start)
        context.connectedAt = start.addingTimeInterval(-120)
        context.payloadSize = 1024
        context.messageRate = 10
        #expect(allows(engine, context))
        for change in [
            { (c: inout PolicyContext) in c.connectedAt = start.addingTimeInterval(-30) },
            { (c: inout PolicyContext) in c.connectedAt = start.addingTimeInterval(-3601) },
            { (c: inout PolicyContext) in c.payloadSize = 1025 },
            { (c: inout PolicyContext) in c.messageRate = 10.5 },
            { (c: inout PolicyContext) in c.payloadSize = nil },
        ] {
            var changed = context
            change(&changed)
            #expect(!allows(engine, changed))
        }
    }

    @Test func reportedProperties() throws {
        let engine = try engine(
            #"{"reported": {"firmware.version": {"one-of": ["2.1", "2.2"]}, "battery": {"at-least": 20},"#
                + #" "enabled": true}}"#)
        var context = PolicyContext()
        let twin: JSONValue = ["firmware": ["version": "2.1"], "battery": .number(55), "enabled": .bool(true)]
        context.reported = twin
        #expect(allows(engine, context))
        context.reported = ["firmware": ["version": "1.9"], "battery": .number(55), "enabled": .bool(true)]
        let old = engine.decide(device, .publish, .topic("t/x"), in: context)
        #expect(!old.isAllowed)
        #expect(old.reasons.contains { $0.contains("reported property 'firmware.version' is '1.9'") })
        context.reported = ["firmware": ["version": "2.2"], "battery": .double(19.5), "enabled": .bool(true)]
        #expect(!allows(engine, context))
        // A number where text is expected, text where a number is: unmet, not a crash.
        context.reported = ["firmware": ["version": .number(2)], "battery": "full", "enabled": .bool(true)]
        #expect(!allows(engine, context))
    }

    struct Twins: ReportedProperties {
        func reported(_ tenantID: TenantID, _ deviceID: DeviceID) -> JSONValue? { ["firmware": "1.0"] }
    }

    /// The authorizer reads the twin only for a policy that asks, and the explanation carries the context it
    /// decided in, so that a trace of the same statements agrees with the decision.
    @Test func theAuthorizerReadsTheTwinAndTheExplanationShowsWhatItSaw() throws {
        let document = try PolicyDocument(
            text: Array(
                #"{"statements": [{"id": "old", "effect": "deny", "principals": {"devices": ["*"]}, "actions": ["connect"], "conditions": {"reported": {"firmware": "1.0"}}}]}"#
                    .utf8))
        let authorizer = PolicyAuthorizer(FixedPolicyFacts(document), twins: TwinSource(Twins()))
        let connect = AuthorizationRequest.connect(.device(try DeviceID("d")), in: .defaultTenant)
        let explanation = authorizer.explain(connect)
        #expect(!explanation.enforced.isAllowed && explanation.enforced.statementID == "old")
        #expect(explanation.context.reported == ["firmware": "1.0"])
        let traced = explanation.policy.enforced.engine.trace(
            try #require(explanation.requestor), .connect, nil, in: explanation.context)
        #expect(traced.first { $0.statementID == "old" }?.outcome == .applies)
        // Without a twin source every twin is unknown: the deny does not apply under balanced.
        #expect(PolicyAuthorizer(FixedPolicyFacts(document)).decide(connect).isAllowed)
    }

    @Test func addressesOutsideAndReportedNoneOf() throws {
        let engine = try engine(
            #"{"source-addresses": {"outside": ["10.0.0.0/8"]}, "reported": {"region": {"none-of": ["north"]}}}"#)
        var context = PolicyContext(peerAddress: try #require(IPAddress("192.0.2.1")))
        context.reported = ["region": "south"]
        #expect(allows(engine, context))
        context.reported = ["region": "north"]
        #expect(!allows(engine, context))
        context.reported = ["region": "south"]
        context.peerAddress = try #require(IPAddress("10.1.2.3"))
        let inside = engine.decide(device, .publish, .topic("t/x"), in: context)
        #expect(!inside.isAllowed)
        #expect(inside.reasons.contains { $0.contains("source address 10.1.2.3 is inside") })
    }

    /// A reported property never reported, and a clock not known to be synchronised: `balanced` lets the
    /// condition not hold; `strict` also lets a deny that needs it apply.
    @Test(arguments: ["balanced", "strict"])
    func unknownContext(tolerance: String) throws {
        let deny =
            #", {"id": "old", "effect": "deny", "principals": {"devices": ["*"]}, "actions": ["publish"],"#
            + #" "conditions": {"reported": {"firmware": "1.0"}}}"#
            + #", {"id": "night", "effect": "deny", "principals": {"devices": ["*"]}, "actions": ["publish"],"#
            + #" "resources": ["n/#"], "conditions": {"time": {"within": "22:00-06:00"}}}"#
            + #", {"id": "n", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["publish"],"#
            + #" "resources": ["n/#"]}"#
        let engine = try engine(#"{"protocols": ["mqtt"]}"#, tolerance: tolerance, extra: deny)
        var context = PolicyContext(now: start)  // 2027-01-15 08:00 UTC: outside the night window
        context.reported = .object([:])
        let notReported = engine.decide(device, .publish, .topic("t/x"), in: context)
        #expect(notReported.isAllowed == (tolerance == "balanced"))
        context.reported = ["firmware": "2.0"]
        #expect(allows(engine, context))
        context.clockIsSynchronized = false
        let unsynchronised = engine.decide(device, .publish, .topic("n/x"), in: context)
        #expect(unsynchronised.isAllowed == (tolerance == "balanced"))
        if tolerance == "strict" { #expect(unsynchronised.statementID == "night") }
    }

    @Test(arguments: [
        (#"{"tls-versions": ["1.0"]}"#, "statements[0].conditions.tls-versions[0]"),
        (#"{"certificate": {}}"#, "statements[0].conditions.certificate"),
        (
            #"{"certificate": {"days-to-expiry": {"at-least": "x"}}}"#,
            "statements[0].conditions.certificate.days-to-expiry.at-least"
        ),
        (#"{"connection-age": {"at-least": "soon"}}"#, "statements[0].conditions.connection-age.at-least"),
        (#"{"payload-size": {"at-least": 10, "at-most": 5}}"#, "statements[0].conditions.payload-size"),
        (#"{"payload-size": {}}"#, "statements[0].conditions.payload-size"),
        (#"{"message-rate": {"below": 5}}"#, "statements[0].conditions.message-rate"),
        (#"{"reported": {}}"#, "statements[0].conditions.reported"),
        (#"{"reported": {"fw": {"one-of": []}}}"#, "statements[0].conditions.reported.fw.one-of"),
        (#"{"reported": {"fw": {"none-of": []}}}"#, "statements[0].conditions.reported.fw.none-of"),
        (#"{"certificate": {"issuers": []}}"#, "statements[0].conditions.certificate.issuers"),
        (#"{"source-addresses": {"within": [], "outside": []}}"#, "statements[0].conditions.source-addresses"),
        (
            #"{"source-addresses": {"outside": ["10.0.0.0/33"]}}"#,
            "statements[0].conditions.source-addresses.outside[0]"
        ),
        (#"{"reported": {"fw": {"none-of": ["1"], "one-of": ["2"]}}}"#, "statements[0].conditions.reported.fw"),
        (#"{"reported": {"a..b": 1}}"#, "statements[0].conditions.reported.a..b"),
        (#"{"reported": {"a.b.c.d.e.f.g.h.i.j.k": 1}}"#, "statements[0].conditions.reported.a.b.c.d.e.f.g.h.i.j.k"),
        (#"{"reported": {"fw": {"one-of": [{"x": 1}]}}}"#, "statements[0].conditions.reported.fw.one-of[0]"),
        (#"{"reported": {"fw": null}}"#, "statements[0].conditions.reported.fw"),
        (#"{"reported": {"fw": {"one-of": ["1"], "at-least": 1}}}"#, "statements[0].conditions.reported.fw"),
    ])
    func badConditionsAreRefusedWithTheField(conditions: String, field: String) throws {
        #expect {
            _ = try engine(conditions)
        } throws: { error in
            (error as? WardenError)?.reason.hasPrefix(field + ":") == true
        }
    }
}
