import Foundation
import Testing
import WardenCore

@testable import WardenDefender

/// A tenant's rules document: what it names changes the platform's rules; anything else is refused naming
/// the field, before anything is stored.
struct DeviceRulesTests {
    @Test func aDocumentChangesOnlyWhatItNames() throws {
        let rules = try DeviceRules().applying(
            """
            {"flapping": {"threshold": 4, "response": "ban", "ban": 120},
             "behaviour": {"warmup": 5, "response": "quarantine", "level": "critical", "max-payload": 1024},
             "unusual-hours": {"enabled": false, "zone": "Europe/Berlin"},
             "tenant-auth-failures": {"window": 30}}
            """)
        #expect(rules.flapping.threshold == 4 && rules.flapping.window == 60)
        #expect(rules.flapping.response == .ban(seconds: 120))
        #expect(rules.behaviour.warmup == 5 && rules.behaviour.response == .quarantine(level: "critical"))
        #expect(rules.behaviour.maximumPayload == 1_024 && rules.behaviour.sensitivity == 4)
        #expect(!rules.unusualHours.enabled && rules.unusualHours.zone.identifier == "Europe/Berlin")
        #expect(rules.tenantAuthFailures.window == 30 && rules.authFailures == DeviceRules().authFailures)
        // The rules in force read back as a document that gives the same rules.
        let text = String(decoding: try JSONEncoder().encode(rules.document), as: UTF8.self)
        #expect(try DeviceRules().applying(text) == rules)
        #expect(try DeviceRules().applying("{}") == DeviceRules())
        // UTC reads back as UTC (Foundation names it GMT).
        #expect(DeviceRules().document["unusual-hours"]?["zone"] == "UTC")
        // A limit is lifted with null.
        let lifted = try rules.applying("{\"behaviour\": {\"max-payload\": null, \"max-message-rate\": 0.5}}")
        #expect(lifted.behaviour.maximumPayload == nil && lifted.behaviour.maximumMessageRate == 0.5)
    }

    @Test(arguments: [
        ("[]", "JSON object"),
        ("{\"flaping\": {}}", "'flaping' is not a rule"),
        ("{\"flapping\": 3}", "'flapping' is an object"),
        ("{\"flapping\": {\"threshold\": 1}}", "'flapping.threshold' is a whole number from 2"),
        ("{\"flapping\": {\"threshold\": 2.5}}", "'flapping.threshold'"),
        ("{\"flapping\": {\"window\": 99999999999999999999}}", "flapping"),
        ("{\"flapping\": {\"treshold\": 3}}", "'flapping.treshold' is not a setting"),
        ("{\"flapping\": {\"enabled\": \"yes\"}}", "'flapping.enabled' is true or false"),
        ("{\"flapping\": {\"response\": \"explode\"}}", "'flapping.response' is one of alert"),
        ("{\"flapping\": {\"level\": \"high\"}}", "'flapping.response' is named when"),
        ("{\"flapping\": {\"response\": \"ban\", \"level\": \"high\"}}", "'flapping.level' is given with"),
        ("{\"flapping\": {\"response\": \"ban\", \"ban\": -1}}", "'flapping.ban' is seconds"),
        ("{\"behaviour\": {\"response\": \"quarantine\", \"level\": \"severe\"}}", "'behaviour.level' is elevated"),
        ("{\"behaviour\": {\"sensitivity\": \"NaN\"}}", "'behaviour.sensitivity' is a number"),
        ("{\"behaviour\": {\"factor\": 1e309}}", "behaviour"),
        ("{\"unusual-hours\": {\"zone\": \"Mars/Olympus\"}}", "'unusual-hours.zone' is a time zone"),
        ("{\"tenant-auth-failures\": {\"response\": \"ban\"}}", "'tenant-auth-failures.response' is \"alert\""),
        ("{\"flapping\": {\"a\": {\"b\": {}}}}", "deep"),
        ("{", "JSON"),
    ])
    func badDocumentsAreRefusedNamingTheField(document: String, says: String) throws {
        let error = try #require(throws: WardenError.self) { try DeviceRules().applying(document) }
        #expect(
            error.code == .requestInvalidField || error.code == .requestMalformedJSON || error.code == .jsonTooComplex)
        #expect(
            error.reason.contains(says) || ["deep", "JSON", "flapping", "behaviour"].contains(says),
            "\(document): \(error.reason)")
    }

    @Test func anOversizedDocumentIsRefusedBeforeParsing() throws {
        let huge = "{\"flapping\": {\"threshold\": 3" + String(repeating: " ", count: 20_000) + "}}"
        let error = try #require(throws: WardenError.self) { try DeviceRules().applying(huge) }
        #expect(error.reason.contains("16384"))
    }
}
