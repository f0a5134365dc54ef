import WardenCore

/// How MQTT topics and filters become NATS subjects, per tenant, so that NATS sends a node only the messages
/// its subscriptions may match (docs/scaling.md, "Between nodes").
///
/// Each topic level is one subject token, escaped so that nothing in a level can act as NATS syntax: bytes
/// other than letters, digits, `_` and `-` become `~XX` (hex), and an empty level becomes `~`. The mapping is
/// one-to-one, and `+` and `#` become `*` and `>`. A subject may match more than the filter (a `$` topic for
/// `#`, say): the receiving node matches every message against its own subscriptions again, so a wider
/// subject costs traffic, never a wrong delivery.
public enum ClusterSubject {
    /// Longer subjects go to a tenant-wide subject instead: the client takes at most 2 KiB (a NATS control line
    /// is at most 4 KiB).
    static let maximumBytes = 2048

    /// Node-to-node events (DomainEvent notices).
    static let events = "warden.events"
    /// A node's notices may have been lost on their way out (NATS was away, or its buffer full): every other node
    /// reads the store again (the payload is the asking node's 16-byte identity).
    static let resynchronize = "warden.resynchronize"
    /// Sessions taken by a connection on some node: every node drops its copy.
    static let sessions = "warden.sessions"
    /// Where the node named `node` takes requests to release a session that a connection elsewhere resumes.
    static func release(node: String) -> String {
        "warden.node." + token(Substring(node)) + ".release"
    }

    /// Devices followed in some node's live telemetry feed, announced by that node (`ClusterFeed`).
    static let feedInterest = "warden.feed.interest"
    static let feedPrefix = "warden.feed.d."

    /// Where notices of one device's committed telemetry go while some node follows it.
    static func feed(_ tenantID: TenantID, _ deviceID: DeviceID) -> String {
        feedPrefix + token(Substring(tenantID.rawValue)) + "." + token(Substring(deviceID.rawValue))
    }

    /// Retained messages of every tenant: every node keeps them all.
    static let retainedAll = "warden.retained.*"

    /// Where a message on `topic` goes.
    static func message(_ tenantID: TenantID, topic: String) -> String {
        let levels = Self.levels(topic).map(token)
        return subject(messagePrefix(tenantID) + "." + levels.joined(separator: ".")) ?? long(tenantID)
    }

    /// What a node subscribes to for `filter`: `a/#` matches `a` as well as what lies below it.
    static func interest(_ tenantID: TenantID, filter: String) -> [String] {
        var levels = Self.levels(filter).map { level in
            switch level {
            case "+": "*"
            case "#": ">"
            default: token(level)
            }
        }
        let prefix = messagePrefix(tenantID)
        var texts = [prefix + "." + levels.joined(separator: ".")]
        if levels.last == ">", levels.count > 1 {
            levels.removeLast()
            texts.append(prefix + "." + levels.joined(separator: "."))
        }
        let subjects = texts.compactMap(subject)
        return subjects.count == texts.count ? subjects : [prefix + ".>"]
    }

    /// Where topics too long for a subject of their own go; a node with any interest in the tenant takes it.
    static func long(_ tenantID: TenantID) -> String {
        messagePrefix(tenantID) + ".~long"
    }

    static func retained(_ tenantID: TenantID) -> String {
        "warden.retained." + token(Substring(tenantID.rawValue))
    }

    private static func messagePrefix(_ tenantID: TenantID) -> String {
        "warden.msg." + token(Substring(tenantID.rawValue))
    }

    private static func subject(_ text: String) -> String? {
        text.utf8.count <= maximumBytes ? text : nil
    }

    /// The levels of a topic or filter, split at its `/` bytes as MQTT splits them (a combining mark after a `/`
    /// does not join two levels, as it would in a split of Characters). Nothing else is canonically equivalent
    /// to `+` or `#`, so a level compared with them as a String is compared byte for byte.
    static func levels(_ text: String) -> [Substring] {
        Substring(text).utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map { Substring($0) }
    }

    /// One level as a subject token (see the type's documentation).
    static func token(_ level: Substring) -> String {
        guard !level.isEmpty else { return "~" }
        var token = ""
        for byte in level.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                token.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                token +=
                    "~" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return token
    }
}
