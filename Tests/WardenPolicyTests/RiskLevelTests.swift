import Testing
import WardenCore
import WardenPolicy

/// `risk-levels` conditions: the Defender's lever. Every request is `normal` until something raises a device.
struct RiskLevelTests {
    @Test func aRaisedRiskConfinesTheDevice() throws {
        let document = try PolicyDocument(
            json: Array(
                #"""
                {"include-default": false, "statements": [
                  {"id": "trusted", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["publish"],
                   "resources": ["devices/${device.id}/#"], "conditions": {"risk-levels": ["normal"]}},
                  {"id": "quarantine", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["publish"],
                   "resources": ["devices/${device.id}/twin/#"], "conditions": {"risk-levels": ["elevated", "high"]}}
                ]}
                """#.utf8))
        let engine = PolicyEngine(document)
        let device = PolicyRequestor(tenantID: .defaultTenant, kind: .device(.init(id: try DeviceID("d"))))
        func decide(_ topic: String, _ risk: RiskLevel) -> PolicyDecision {
            engine.decide(device, .publish, .topic(topic), in: PolicyContext(risk: risk))
        }
        #expect(decide("devices/d/telemetry", .normal).statementID == "trusted")
        #expect(!decide("devices/d/telemetry", .elevated).isAllowed)
        #expect(decide("devices/d/twin/x", .high).statementID == "quarantine")
        #expect(!decide("devices/d/twin/x", .critical).isAllowed)
        #expect(decide("devices/d/telemetry", .high).reasons.contains { $0.contains("risk level 'high'") })
        #expect(throws: WardenError.self) {
            _ = try PolicyDocument(
                json: Array(
                    #"{"statements": [{"id": "x", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["connect"], "conditions": {"risk-levels": ["calm"]}}]}"#
                        .utf8))
        }
    }
}

/// Quarantine through the shipped statements: a device the Defender raised to `high` sends no telemetry; its
/// twin and cloud-to-device topics still work; `elevated` confines nothing by default; `normal` is as always.
struct QuarantineTests {
    @Test func theShippedStatementsRefuseAQuarantinedDevicesTelemetryOnly() throws {
        func authorizer(_ risk: RiskLevel) throws -> PolicyAuthorizer {
            PolicyAuthorizer(FixedPolicyFacts(devices: [.init(id: try DeviceID("d"), risk: risk)]))
        }
        func allowed(_ risk: RiskLevel, _ action: PolicyAction, _ topic: String) throws -> Bool {
            try authorizer(risk).decide(
                AuthorizationRequest(
                    tenantID: .defaultTenant, subject: .device(try DeviceID("d")), action: action,
                    resource: .topic(topic))
            ).isAllowed
        }
        #expect(try allowed(.normal, .publish, "devices/d/messages/events/"))
        #expect(try allowed(.elevated, .publish, "devices/d/messages/events/"))
        #expect(try !allowed(.high, .publish, "devices/d/messages/events/a=1"))
        #expect(try !allowed(.critical, .publish, "devices/d/messages/events/"))
        #expect(try allowed(.high, .publish, "$iothub/twin/GET/?$rid=1"))
        #expect(try allowed(.high, .publish, "$iothub/twin/PATCH/properties/reported/?$rid=2"))
        #expect(try allowed(.high, .subscribe, "devices/d/messages/devicebound/#"))
        #expect(
            try authorizer(.critical).decide(
                AuthorizationRequest(
                    tenantID: .defaultTenant, subject: .device(try DeviceID("d")), action: .connect, resource: nil)
            ).isAllowed)
    }
}
