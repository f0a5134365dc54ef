public import WardenCore
public import WardenMQTT

/// A resource of a policy statement: an MQTT topic filter whose levels may name values of the requestor
/// (`${device.id}`, `${device.attr.NAME}`, `${device.group}`, `${tenant}`, `${client.id}`), which come only from
/// the authenticated identity and the registry.
///
/// A bound value is always text, never a wildcard: `+`, `#` or `/` in a device id or attribute match only
/// themselves, so no value can widen what a statement grants. A value that is missing (an attribute the device
/// does not have) leaves the template bound to nothing.
public struct TopicTemplate: Sendable, Hashable, CustomStringConvertible {
    /// What a `${…}` names.
    public enum Variable: Sendable, Hashable {
        case deviceID
        case deviceAttribute(String)
        /// One binding per group of the device.
        case deviceGroup
        case tenant
        /// A service's or an anonymous client's ClientId.
        case clientID

        init?(_ name: Substring) {
            switch name {
            case "device.id": self = .deviceID
            case "device.group": self = .deviceGroup
            case "tenant": self = .tenant
            case "client.id": self = .clientID
            default:
                let prefix = "device.attr."
                guard name.hasPrefix(prefix), name.count > prefix.count else { return nil }
                self = .deviceAttribute(String(name.dropFirst(prefix.count)))
            }
        }
    }

    /// One level as written.
    enum Level: Sendable, Hashable {
        /// Text and variables, concatenated.
        case parts([Part])
        case singleLevelWildcard
        case multiLevelWildcard
    }

    enum Part: Sendable, Hashable {
        /// UTF-8, as topics are compared.
        case text([UInt8])
        case variable(Variable)
    }

    /// The values a template binds to: the requestor's.
    public struct Values: Sendable {
        public var deviceID: DeviceID?
        public var attributes: [String: String]
        public var groups: Set<GroupName>
        public var tenantID: TenantID
        public var clientID: String?

        public init(
            tenantID: TenantID, deviceID: DeviceID? = nil, attributes: [String: String] = [:],
            groups: Set<GroupName> = [], clientID: String? = nil
        ) {
            self.tenantID = tenantID
            self.deviceID = deviceID
            self.attributes = attributes
            self.groups = groups
            self.clientID = clientID
        }
    }

    let levels: [Level]
    /// For `$share/{name}/…`: the share name (nil within: `+`, any); only shared subscriptions are taken in.
    let share: String??
    public let description: String

    /// Reads `text`: a topic filter (`#` only as the whole last level, `+` only as a whole level), perhaps of a
    /// shared subscription (`$share/{name or +}/…`), whose levels may hold `${…}` variables; at most
    /// `maximumLength` bytes.
    public init(_ text: String) throws(PolicyError) {
        guard !text.isEmpty, text.utf8.count <= Self.maximumLength else {
            throw PolicyError("a resource is 1 to \(Self.maximumLength) bytes")
        }
        var filter = Substring(text)
        if text.hasPrefix("$share/") {
            let rest = filter.dropFirst("$share/".count)
            guard let slash = rest.firstIndex(of: "/"), slash > rest.startIndex,
                rest.index(after: slash) < rest.endIndex
            else { throw PolicyError("'$share/' needs a share name (or +) and a filter in '\(text)'") }
            let name = rest[..<slash]
            guard name == "+" || (!name.contains("+") && !name.contains("#") && !name.contains("${")) else {
                throw PolicyError("a share name is a name or + in '\(text)'")
            }
            share = .some(name == "+" ? nil : String(name))
            filter = rest[rest.index(after: slash)...]
        } else {
            share = nil
        }
        // Levels split at the `/` bytes, wildcards found as bytes, as topics are matched: a combining mark after
        // a `/`, `#` or `+` hides none of them.
        let raw = filter.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map {
            Substring($0)
        }
        var levels: [Level] = []
        for (index, level) in raw.enumerated() {
            switch level {
            case "#":
                guard index == raw.count - 1 else { throw PolicyError("'#' is only the last level of '\(text)'") }
                levels.append(.multiLevelWildcard)
            case "+":
                levels.append(.singleLevelWildcard)
            default:
                guard !level.utf8.contains(UInt8(ascii: "#")), !level.utf8.contains(UInt8(ascii: "+")) else {
                    throw PolicyError("a wildcard is a whole level in '\(text)'")
                }
                levels.append(.parts(try Self.parts(of: level, in: text)))
            }
        }
        self.levels = levels
        self.variables = levels.flatMap { level -> [Variable] in
            guard case .parts(let parts) = level else { return [] }
            return parts.compactMap { part in
                if case .variable(let variable) = part { return variable }
                return nil
            }
        }
        self.usesGroup = variables.contains(.deviceGroup)
        self.description = text
    }

    /// The longest resource accepted.
    public static let maximumLength = 1024

    private static func parts(of level: Substring, in text: String) throws(PolicyError) -> [Part] {
        var parts: [Part] = []
        var rest = level
        while let open = rest.firstRange(of: "${") {
            if open.lowerBound > rest.startIndex { parts.append(.text(Array(rest[..<open.lowerBound].utf8))) }
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                throw PolicyError("an unclosed '${' in '\(text)'")
            }
            let name = rest[open.upperBound..<close]
            guard let variable = Variable(name) else { throw PolicyError("no variable '${\(name)}' in '\(text)'") }
            parts.append(.variable(variable))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty || parts.isEmpty { parts.append(.text(Array(rest.utf8))) }
        return parts
    }

    /// Every variable the levels name.
    let variables: [Variable]
    /// Whether a level holds `${device.group}`: the template then stands for one filter per group.
    let usesGroup: Bool

    /// The filters this template stands for with `values`: one, or one per group for `${device.group}`. Nothing
    /// is copied: a binding reads the template and the values as it compares.
    public func bind(_ values: Values) -> [Binding] {
        usesGroup
            ? values.groups.sorted().map { Binding(template: self, values: values, group: $0) }
            : [Binding(template: self, values: values, group: nil)]
    }

    /// A template with one requestor's values: literal levels, compared as text whatever the values hold, and
    /// wildcards. Each answer is nil when a value the template needs is missing.
    public struct Binding: Sendable {
        let template: TopicTemplate
        let values: Values
        let group: GroupName?

        /// Whether `topic` (a PUBLISH's topic name) is one this filter matches.
        public func matches(topic: String) -> Bool? { template.matches(topic: topic, values, group: group) }

        /// Whether `filter` (a SUBSCRIBE's) is within this filter.
        public func covers(_ filter: TopicFilter) -> Bool? { template.covers(filter, values, group: group) }
    }

    /// Whether `topic` (a PUBLISH's topic name) is one this filter matches (MQTT §4.7: `+` one level, `#`
    /// the parent and any levels below; a filter starting with a wildcard does not match a topic starting
    /// with `$`). Compares UTF-8 bytes in place: it runs for every statement on every PUBLISH.
    func matches(topic: String, _ values: Values, group: GroupName?) -> Bool? {
        guard hasEveryValue(values, group) else { return nil }
        // A shared subscription's resource is about subscribing, never a topic to publish to.
        guard share == nil else { return false }
        var topic = topic
        return topic.withUTF8 { bytes in
            if bytes.first == UInt8(ascii: "$"), startsWithWildcard { return false }
            var walk = LevelWalk(bytes)
            for index in levels.indices {
                switch levels[index] {
                case .multiLevelWildcard: return true
                case .singleLevelWildcard:
                    guard walk.next() != nil else { return false }
                case .parts(let parts):
                    guard let level = walk.next(), Self.level(parts, equals: level, values, group) else { return false }
                }
            }
            return walk.isDone
        }
    }

    /// Whether every topic `filter` subscribes to, with at least as many levels as it has, is one this
    /// filter matches: its `+` only within a `+` or `#`, its `#` only within a `#` here or a `+` followed
    /// by a final `#`. The parent topic a final `#` also matches is the `receive` check's.
    func covers(_ filter: TopicFilter, _ values: Values, group: GroupName?) -> Bool? {
        guard hasEveryValue(values, group) else { return nil }
        switch (share, filter.shareName) {
        case (nil, nil), (.some(nil), .some): break
        case (.some(.some(let name)), .some(let asked)) where TopicKey(name) == TopicKey(asked): break
        default: return false
        }
        var text = filter.filter
        return text.withUTF8 { bytes in
            if bytes.first == UInt8(ascii: "$"), startsWithWildcard { return false }
            var walk = LevelWalk(bytes)
            let levels = levels
            for index in levels.indices {
                if levels[index] == .multiLevelWildcard { return true }
                guard let asked = walk.next() else { return false }
                let isPlus = asked.count == 1 && asked[asked.startIndex] == UInt8(ascii: "+")
                let isHash = asked.count == 1 && asked[asked.startIndex] == UInt8(ascii: "#")
                switch levels[index] {
                case .multiLevelWildcard: return true
                case .singleLevelWildcard where isHash:
                    // `+/#` here covers every level below, which is what `#` there asks for (less the parent).
                    return index == levels.count - 2 && levels.last == .multiLevelWildcard
                case .singleLevelWildcard: continue
                case .parts(let parts):
                    guard !isPlus, !isHash, Self.level(parts, equals: asked, values, group) else { return false }
                }
            }
            return walk.isDone
        }
    }

    /// Whether every variable of the template has a value: without one, no answer (whatever the other
    /// levels say), so that a deny missing its context fails closed.
    private func hasEveryValue(_ values: Values, _ group: GroupName?) -> Bool {
        variables.allSatisfy { Self.value(of: $0, values, group) != nil }
    }

    /// Whether the level written as `parts` is `level`, byte for byte (every value is known by now).
    private static func level(
        _ parts: [Part], equals level: Slice<UnsafeBufferPointer<UInt8>>, _ values: Values, _ group: GroupName?
    ) -> Bool {
        var position = level.startIndex
        for part in parts {
            let matched: Bool
            switch part {
            case .text(let bytes):
                matched = bytes.withUnsafeBufferPointer { Self.consume($0, from: level, at: &position) }
            case .variable(let variable):
                guard var value = value(of: variable, values, group) else { return false }
                matched = value.withUTF8 { Self.consume($0, from: level, at: &position) }
            }
            guard matched else { return false }
        }
        return position == level.endIndex
    }

    /// Whether `level` continues at `position` with `piece`; moves `position` past it.
    private static func consume(
        _ piece: UnsafeBufferPointer<UInt8>, from level: Slice<UnsafeBufferPointer<UInt8>>, at position: inout Int
    ) -> Bool {
        guard level.endIndex - position >= piece.count else { return false }
        for offset in 0..<piece.count where level[position + offset] != piece[offset] { return false }
        position += piece.count
        return true
    }

    private static func value(of variable: Variable, _ values: Values, _ group: GroupName?) -> String? {
        switch variable {
        case .deviceID: values.deviceID?.rawValue
        case .deviceAttribute(let name): values.attributes[name]
        case .deviceGroup: group?.rawValue
        case .tenant: values.tenantID.rawValue
        case .clientID: values.clientID
        }
    }

    var startsWithWildcard: Bool { levels.first == .singleLevelWildcard || levels.first == .multiLevelWildcard }
}

/// The levels of a topic or filter's UTF-8, one at a time, without allocating.
private struct LevelWalk {
    let bytes: UnsafeBufferPointer<UInt8>
    /// Where the next level starts; nil once the last one was taken.
    var start: Int?

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        self.start = 0
    }

    /// Whether every level was taken.
    var isDone: Bool { start == nil }

    mutating func next() -> Slice<UnsafeBufferPointer<UInt8>>? {
        guard let from = start else { return nil }
        var end = from
        while end < bytes.count, bytes[end] != UInt8(ascii: "/") { end += 1 }
        start = end < bytes.count ? end + 1 : nil
        return bytes[from..<end]
    }
}

/// Why a policy document or one of its parts is refused: said to whoever wrote it.
public struct PolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
