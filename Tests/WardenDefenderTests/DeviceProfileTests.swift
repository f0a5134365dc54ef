import Foundation
import Testing
import WardenCore

@testable import WardenDefender

/// Each device's learned behaviour: quiet while learning, then an interval far above its baseline is anomalous
/// and not learned; static limits apply from the first interval; new topics, networks and hours are said once.
struct DeviceProfileTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func sample(
        messages: Int, seconds: Double = 10, bytes: Int? = nil, topics: [String] = ["devices/d/messages/events/"],
        moreTopics: Bool = false, at: Date? = nil
    ) throws -> DeviceActivity {
        DeviceActivity(
            tenantID: .defaultTenant, deviceID: try DeviceID("d"), seconds: seconds, messages: messages,
            bytes: bytes ?? messages * 100, largestPayload: messages > 0 ? 100 : 0,
            topics: topics.map(DeviceActivity.topicKey), moreTopics: moreTopics, at: at ?? start)
    }

    @Test func fiftyTimesTheBaselineIsAnAnomalyAndIsNotLearned() throws {
        var rules = DeviceRules.Behaviour()
        rules.warmup = 10
        var profile = DeviceProfile(at: start)
        // 2 messages/s, with some noise, while learning: nothing is said however it varies.
        for index in 0..<10 {
            #expect(profile.observe(try sample(messages: 20 + index % 3), rules: rules).isEmpty)
        }
        #expect(profile.observe(try sample(messages: 25), rules: rules).isEmpty, "noise is not an anomaly")
        let burst = profile.observe(try sample(messages: 1_000), rules: rules)
        #expect(burst.map(\.rule) == [DeviceProfile.messageRateRule])
        #expect(burst.first?.summary.contains("100 messages/s") == true)
        // Not learned: the same burst again is still anomalous.
        #expect(
            profile.observe(try sample(messages: 1_000), rules: rules).map(\.rule) == [DeviceProfile.messageRateRule])
        #expect(profile.rate.mean < 3)
        // A quiet device's few messages stay under the floor, whatever its baseline.
        var quiet = DeviceProfile(at: start)
        for _ in 0..<10 { _ = quiet.observe(try sample(messages: 0), rules: rules) }
        #expect(quiet.observe(try sample(messages: 5), rules: rules).isEmpty, "0.5/s is under the 1/s floor")
    }

    @Test func staticLimitsJudgeFromTheFirstInterval() throws {
        var rules = DeviceRules.Behaviour()
        rules.maximumMessageRate = 10
        rules.maximumPayload = 50
        var profile = DeviceProfile(at: start)
        let findings = profile.observe(try sample(messages: 200), rules: rules)
        #expect(Set(findings.map(\.rule)) == [DeviceProfile.messageRateRule, DeviceProfile.payloadSizeRule])
    }

    @Test func payloadsFarLargerThanUsualAreAnomalous() throws {
        var rules = DeviceRules.Behaviour()
        rules.warmup = 5
        var profile = DeviceProfile(at: start)
        for _ in 0..<5 { _ = profile.observe(try sample(messages: 10, bytes: 10 * 300), rules: rules) }
        let findings = profile.observe(try sample(messages: 10, bytes: 10 * 8_000), rules: rules)
        #expect(findings.map(\.rule) == [DeviceProfile.payloadSizeRule])
    }

    @Test func aTopicNeverUsedWhileLearningIsSaidOnce() throws {
        var rules = DeviceRules.Behaviour()
        rules.warmup = 3
        var profile = DeviceProfile(at: start)
        for _ in 0..<3 {
            _ = profile.observe(try sample(messages: 5, topics: ["devices/d/messages/events/a=1"]), rules: rules)
        }
        // A property bag is not another topic.
        #expect(
            profile.observe(try sample(messages: 5, topics: ["devices/d/messages/events/b=2"]), rules: rules).isEmpty)
        let new = profile.observe(try sample(messages: 5, topics: ["factory/valves/open"]), rules: rules)
        #expect(new.map(\.rule) == [DeviceProfile.topicsRule])
        #expect(profile.observe(try sample(messages: 5, topics: ["factory/valves/open"]), rules: rules).isEmpty)
        // Topics are told apart by their bytes, as MQTT and the policy do: a Kelvin sign is not the K learned.
        _ = profile.observe(try sample(messages: 5, topics: ["factory/K"]), rules: rules)
        #expect(profile.observe(try sample(messages: 5, topics: ["factory/\u{212A}"]), rules: rules).count == 1)
        // A property bag after a combining mark is still a property bag: the marker is found among the bytes.
        #expect(DeviceActivity.topicKey("devices/d/messages/events/\u{301}a=1") == "devices/d/messages/events/")
    }

    @Test func aNewNetworkIsSaidOnceAfterTheWarmUp() throws {
        var rules = DeviceRules.NewNetwork()
        rules.warmup = 3
        var profile = DeviceProfile(at: start)
        for host in 1...3 {
            #expect(
                profile.observeConnection(from: try #require(IPAddress("198.51.100.\(host)")), rules: rules)
                    == nil)
        }
        #expect(
            profile.observeConnection(from: try #require(IPAddress("198.51.100.200")), rules: rules) == nil)
        let finding = profile.observeConnection(from: try #require(IPAddress("203.0.113.5")), rules: rules)
        #expect(finding?.rule == DeviceProfile.newNetworkRule && finding?.summary.contains("203.0.113.0/24") == true)
        #expect(profile.observeConnection(from: try #require(IPAddress("203.0.113.9")), rules: rules) == nil)
        #expect(DeviceProfile.network(of: try #require(IPAddress("2001:db8:1:2:3::4"))) == "2001:db8:1:2::/64")
    }

    @Test func anHourNeverActiveInIsUnusualAfterTheWarmUpDays() throws {
        var rules = DeviceRules.UnusualHours()
        rules.warmupDays = 3
        rules.zoneName = "Europe/Berlin"
        var profile = DeviceProfile(at: start)
        func observe(messages: Int, at date: Date) throws -> DeviceProfile.Finding? {
            let time = try #require(DeviceProfile.hourAndDay(of: date, in: rules.zone))
            return profile.observeHour(time, of: try sample(messages: messages, at: date), rules: rules)
        }
        // Active at 10:00 UTC (11:00 or 12:00 in Berlin) on three days.
        let ten = start.addingTimeInterval(
            -start.timeIntervalSince1970.truncatingRemainder(dividingBy: 86_400) + 36_000)
        for day in 0..<3 {
            #expect(try observe(messages: 3, at: ten.addingTimeInterval(Double(day) * 86_400)) == nil)
        }
        #expect(try observe(messages: 3, at: ten.addingTimeInterval(3 * 86_400)) == nil)
        #expect(try observe(messages: 0, at: ten.addingTimeInterval(3 * 86_400 + 7_200)) == nil, "no messages")
        let night = try observe(messages: 3, at: ten.addingTimeInterval(3 * 86_400 + 7 * 3_600))
        #expect(night?.rule == DeviceProfile.unusualHoursRule && night?.summary.contains("Europe/Berlin") == true)
        #expect(try observe(messages: 3, at: ten.addingTimeInterval(4 * 86_400 + 7 * 3_600)) == nil, "said once")
    }

    @Test func topicsAreBoundedAndResolvingForgetsOnlyTheBehaviour() throws {
        var rules = DeviceRules.Behaviour()
        rules.warmup = 2
        var profile = DeviceProfile(at: start)
        for _ in 0..<2 { _ = profile.observe(try sample(messages: 5, topics: ["a"]), rules: rules) }
        // New topics after learning are said, and kept up to the most; past it topics are no longer judged.
        for index in 0..<(DeviceProfile.maximumTopics + 8) {
            _ = profile.observe(try sample(messages: 5, topics: ["new/\(index)"]), rules: rules)
        }
        #expect(profile.topics == nil)
        #expect(profile.observe(try sample(messages: 5, topics: ["newer"]), rules: rules).isEmpty)
        // A long topic is kept cut.
        #expect(DeviceActivity.topicKey(String(repeating: "x", count: 70_000)).utf8.count == 256)
        // A cut inside a character keeps the bound (DefenderFuzzer's finding: 255 bytes then an ö).
        let cut = DeviceActivity.topicKey(String(repeating: "x", count: 255) + "ööö")
        #expect(cut.utf8.count <= 256 && cut.hasPrefix(String(repeating: "x", count: 255)) && !cut.contains("\u{FFFD}"))
        // More topics in one interval than a sample names, from a device that used few, is said.
        var few = DeviceProfile(at: start)
        for _ in 0..<2 { _ = few.observe(try sample(messages: 5, topics: ["a"]), rules: rules) }
        let many = few.observe(try sample(messages: 5, topics: ["a"], moreTopics: true), rules: rules)
        #expect(many.map(\.rule) == [DeviceProfile.topicsRule])
        _ = few.observeConnection(from: try #require(IPAddress("192.0.2.1")), rules: DeviceRules.NewNetwork())
        few.forgetBehaviour()
        #expect(few.samples == 0 && few.topics == [] && few.networks == ["192.0.2.0/24"])
    }
}
