import Foundation
import Testing
import WardenCore
import WardenPolicy

/// `time` conditions: local time in a zone, windows crossing midnight, weekdays, and precise refusals.
struct TimeWindowTests {
    /// 2026-12-07 is a Monday; Berlin is UTC+1 in December and UTC+2 in July.
    private func at(_ iso: String) throws -> Date {
        try #require(ISO8601DateFormatter().date(from: iso))
    }

    @Test func localTimeInTheZoneDecides() throws {
        let office = try TimeWindow(window: "08:00-18:00", within: true, zone: "Europe/Berlin", weekdays: nil)
        #expect(try office.holds(at: at("2026-12-07T07:00:00Z")))  // 08:00 in Berlin
        #expect(try !office.holds(at: at("2026-12-07T06:59:59Z")))
        #expect(try !office.holds(at: at("2026-12-07T17:00:00Z")))  // 18:00: the window has closed
        #expect(try office.holds(at: at("2026-07-06T06:00:00Z")))  // summer time: 08:00
        let closed = try TimeWindow(window: "08:00-18:00", within: false, zone: "Europe/Berlin", weekdays: nil)
        #expect(try closed.holds(at: at("2026-12-07T20:00:00Z")) && !closed.holds(at: at("2026-12-07T10:00:00Z")))
    }

    @Test func windowsCrossMidnightAndKeepToTheirWeekdays() throws {
        let night = try TimeWindow(window: "22:00-06:00", within: true, zone: nil, weekdays: nil)
        #expect(try night.holds(at: at("2026-12-07T23:30:00Z")) && night.holds(at: at("2026-12-08T05:59:00Z")))
        #expect(try !night.holds(at: at("2026-12-08T06:00:00Z")))
        let weekdays = try TimeWindow(
            window: "08:00:30-18:00", within: true, zone: "UTC", weekdays: ["mon", "tue", "wed", "thu", "fri"])
        #expect(try weekdays.holds(at: at("2026-12-07T08:00:30Z")))  // Monday
        #expect(try !weekdays.holds(at: at("2026-12-07T08:00:29Z")))
        #expect(try !weekdays.holds(at: at("2026-12-12T10:00:00Z")))  // Saturday
        #expect(try !weekdays.holds(at: at("1969-12-28T10:00:00Z")))  // a Sunday before 1970
        #expect(try weekdays.holds(at: at("1969-12-29T10:00:00Z")))  // a Monday before 1970
        // Moments no clock gives but a simulation could name: no trap, and no window holds.
        #expect(!weekdays.holds(at: Date(timeIntervalSince1970: .infinity)))
        #expect(!weekdays.holds(at: Date(timeIntervalSince1970: 1e300)))
        #expect(!weekdays.holds(at: Date(timeIntervalSince1970: -1e300)))
    }

    @Test(arguments: [
        (#"{"within": "8-18"}"#, "a window is HH:MM-HH:MM"),
        (#"{"within": "08:00-08:00"}"#, "two different times"),
        (#"{"within": "24:00-08:00"}"#, "a window is"),
        (#"{"within": "+8:00-18:00"}"#, "a window is"),
        (#"{"within": "08:00- 9:00"}"#, "a window is"),
        (#"{"within": "08:00-18:00", "outside": "18:00-20:00"}"#, "exactly one of"),
        (#"{"zone": "UTC"}"#, "exactly one of"),
        (#"{"within": "08:00-18:00", "zone": "Mars/Olympus"}"#, "not a time zone"),
        (#"{"within": "08:00-18:00", "weekdays": ["someday"]}"#, "not a weekday"),
        (#"{"within": "08:00-18:00", "weekdays": []}"#, "at least one weekday"),
        (#"{"within": "08:00-18:00", "at": 1}"#, "no field 'at'"),
    ])
    func refusalsNameTheCondition(_ time: String, _ message: String) throws {
        let document = """
            {"statements": [{"id": "t", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["connect"],
              "conditions": {"time": \(time)}}]}
            """
        do {
            _ = try PolicyDocument(json: Array(document.utf8))
            Issue.record("accepted \(time)")
        } catch {
            #expect(error.reason.hasPrefix("statements[0].conditions.time"), "\(error.reason)")
            #expect(error.reason.contains(message), "\(error.reason)")
        }
    }

    @Test func theEngineAsksTheTimeItIsGiven() throws {
        let document = try PolicyDocument(
            json: Array(
                #"""
                {"statements": [{"id": "contractors-daytime", "effect": "deny", "principals": {"devices": ["c-*"]},
                  "actions": ["connect"], "conditions": {"time": {"outside": "08:00-18:00", "zone": "Europe/Berlin"}}}]}
                """#.utf8))
        let engine = PolicyEngine(document)
        let contractor = PolicyRequestor(tenantID: .defaultTenant, kind: .device(.init(id: try DeviceID("c-1"))))
        let night = engine.decide(contractor, .connect, nil, in: PolicyContext(now: try at("2026-12-07T22:00:00Z")))
        #expect(night.statementID == "contractors-daytime" && !night.isAllowed)
        let day = engine.decide(contractor, .connect, nil, in: PolicyContext(now: try at("2026-12-07T10:00:00Z")))
        #expect(day.isAllowed && day.statementID == "default.device-connect")
        #expect(engine.timeWindows.count == 1)
    }
}
