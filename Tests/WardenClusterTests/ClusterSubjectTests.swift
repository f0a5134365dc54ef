import Testing
import WardenCore
import WardenMQTT

@testable import WardenCluster

/// Topics and filters as NATS subjects: one token per level, nothing in a level acting as NATS syntax, and a
/// subscription's subjects matching every subject its filter's topics go to.
struct ClusterSubjectTests {
    let tenant = TenantID.defaultTenant

    @Test(arguments: [
        ("a/b", "warden.msg.default.a.b"),
        ("/a//b/", "warden.msg.default.~.a.~.b.~"),
        ("a.b/*/>/~", "warden.msg.default.a~2Eb.~2A.~3E.~7E"),
        ("sp ace/tab\t/ü", "warden.msg.default.sp~20ace.tab~09.~C3~BC"),
        ("$SYS/x", "warden.msg.default.~24SYS.x"),
        // A combining mark after a `/` starts the next level, as MQTT splits topics (bytes).
        ("a/\u{301}b", "warden.msg.default.a.~CC~81b"),
    ])
    func topicsBecomeOneTokenPerLevel(topic: String, subject: String) {
        #expect(ClusterSubject.message(tenant, topic: topic) == subject)
    }

    @Test(arguments: [
        ("a/+/c", ["warden.msg.default.a.*.c"]),
        ("a/#", ["warden.msg.default.a.>", "warden.msg.default.a"]),
        ("#", ["warden.msg.default.>"]),
        ("+", ["warden.msg.default.*"]),
        ("/+/#", ["warden.msg.default.~.*.>", "warden.msg.default.~.*"]),
    ])
    func filtersBecomeWildcards(filter: String, subjects: [String]) {
        #expect(ClusterSubject.interest(tenant, filter: filter) == subjects)
    }

    /// Whatever the levels, a topic's subject is matched by the subjects of every filter that matches the topic.
    @Test func everyMatchingFilterSubscribesToTheTopicsSubject() throws {
        let topics = ["a", "a/b", "a/b/c", "/", "a//c", "a.b/c", "x/*", "$SYS/a", "a/b/c/d/e", "a/\u{301}b"]
        let filters = ["#", "+", "a/#", "a/+", "a/+/c", "+/+", "/#", "a//+", "+/b/#", "x/*", "a.b/+", "+/+/+/+/+"]
        for topic in topics {
            let subject = ClusterSubject.message(tenant, topic: topic)
            for filter in filters where try TopicFilter(filter).matches(topic) {
                let subjects = ClusterSubject.interest(tenant, filter: filter)
                #expect(
                    subjects.contains { natsMatches($0, subject) }, "\(filter) does not reach \(topic) as \(subject)")
            }
        }
    }

    /// Too long for a subject of its own: the topic goes to the tenant's long subject, a filter subscribes to the
    /// whole tenant (the receiving node matches exactly).
    @Test func longTopicsAndFiltersFallBackToTenantWideSubjects() {
        let long = String(repeating: "level/", count: 400) + "end"
        #expect(ClusterSubject.message(tenant, topic: long) == "warden.msg.default.~long")
        #expect(ClusterSubject.interest(tenant, filter: long) == ["warden.msg.default.>"])
        #expect(natsMatches("warden.msg.default.>", ClusterSubject.long(tenant)))
    }

    /// NATS's subject matching: `*` one token, `>` one or more at the end.
    private func natsMatches(_ pattern: String, _ subject: String) -> Bool {
        let patternTokens = pattern.split(separator: ".", omittingEmptySubsequences: false)
        let subjectTokens = subject.split(separator: ".", omittingEmptySubsequences: false)
        for (index, token) in patternTokens.enumerated() {
            if token == ">" { return subjectTokens.count > index }
            guard index < subjectTokens.count, token == "*" || token == subjectTokens[index] else { return false }
        }
        return patternTokens.count == subjectTokens.count
    }
}
