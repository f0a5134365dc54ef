/// A tenant's ordered IP filter: the first rule whose block holds the address decides; else the default.
public struct IPFilter: Sendable, Hashable {
    /// The most rules one filter may hold.
    public static let maximumRules = 100

    /// Accept or reject a connection.
    public enum Action: String, Sendable, Codable, Hashable {
        case accept
        case reject
    }

    /// One named rule.
    public struct Rule: Sendable, Hashable, Codable {
        /// A name for operators (1 to 128 characters), shown in audit records, never to the client.
        public let name: String
        /// What a match means.
        public let action: Action
        /// The addresses it matches.
        public let cidr: CIDR

        /// Makes a rule.
        public init(name: String, action: Action, cidr: CIDR) {
            self.name = name
            self.action = action
            self.cidr = cidr
        }
    }

    /// What an evaluation decided, and which rule decided it (nil: the default).
    public struct Verdict: Sendable, Hashable {
        /// The decision.
        public let action: Action
        /// The rule that matched, if any.
        public let ruleName: String?
    }

    /// Applies when no rule matches.
    public var defaultAction: Action
    /// Evaluated in order.
    public var rules: [Rule]
    /// Changes on every update, for If-Match.
    public var etag: String

    /// Makes a filter; checks the rule count and names.
    public init(defaultAction: Action, rules: [Rule], etag: String) throws(WardenError) {
        guard rules.count <= Self.maximumRules else {
            throw WardenError(
                .ipFilterTooManyRules, "An IP filter holds at most \(Self.maximumRules) rules; got \(rules.count).")
        }
        for rule in rules where rule.name.isEmpty || rule.name.count > 128 {
            throw WardenError(.ipFilterInvalidRule, "Every IP filter rule needs a name of 1 to 128 characters.")
        }
        self.defaultAction = defaultAction
        self.rules = rules
        self.etag = etag
    }

    /// The filter a new tenant has: no rules, accept.
    public static func acceptAll(etag: String) -> IPFilter {
        IPFilter(unchecked: .accept, etag: etag)
    }

    private init(unchecked defaultAction: Action, etag: String) {
        self.defaultAction = defaultAction
        self.rules = []
        self.etag = etag
    }

    /// First match wins.
    public func evaluate(_ address: IPAddress) -> Verdict {
        for rule in rules where rule.cidr.contains(address) {
            return Verdict(action: rule.action, ruleName: rule.name)
        }
        return Verdict(action: defaultAction, ruleName: nil)
    }
}
