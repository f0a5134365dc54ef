import Testing
import WardenCore

/// Twin sections merge patches as IoT Hub does: null deletes, objects merge, anything else replaces.
struct DeviceTwinTests {
    @Test func patchesMergeDeleteAndCountVersions() {
        var section = DeviceTwin.Section()
        section.apply(["firmware": "1.0", "battery": ["level": 80, "charging": true]], at: 10)
        #expect(section.version == 1 && section.sectionUpdated == 10)
        section.apply(["battery": ["charging": .null, "health": "good"], "firmware": "1.1"], at: 20)
        #expect(section.properties == ["firmware": "1.1", "battery": ["level": 80, "health": "good"]])
        #expect(section.version == 2 && section.lastUpdated == ["firmware": 20, "battery": 20])
        section.apply(["battery": .null, "absent": .null], at: 30)
        #expect(section.properties == ["firmware": "1.1"] && section.lastUpdated == ["firmware": 20])
        #expect(section.version == 3)
    }

    @Test func aValueReplacesAnObjectAndTheOtherWayRound() {
        var section = DeviceTwin.Section()
        section.apply(["mode": ["a": 1]], at: 1)
        section.apply(["mode": "off"], at: 2)
        #expect(section.properties == ["mode": "off"])
        section.apply(["mode": ["b": .null, "c": 2]], at: 3)
        #expect(section.properties == ["mode": ["c": 2]])
    }
}
