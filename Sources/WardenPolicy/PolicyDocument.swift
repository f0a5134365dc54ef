public import WardenCore

/// A tenant's policy document (docs/policy.md): how strictly it applies and its statements, read from JSON with
/// an error that names the field.
public struct PolicyDocument: Sendable, Hashable {
    /// How the document is enforced.
    public enum Tolerance: String, Sendable, Hashable, CaseIterable {
        /// Missing or stale context fails closed.
        case strict
        case balanced
        /// Decisions are computed and recorded, not enforced.
        case auditOnly = "audit-only"
    }

    public var tolerance: Tolerance
    /// Whether the shipped statements (`DefaultPolicy`) stay in force beside these.
    public var includeDefault: Bool
    public var statements: [PolicyStatement]

    /// The most statements a document holds.
    public static let maximumStatements = 10_000
    /// The most entries of any other list (devices, groups, services, actions, CIDRs, …) and attributes.
    public static let maximumListEntries = 1_000
    /// The most resources of one statement: each is matched on every decision the statement is asked.
    public static let maximumResources = 100
    /// The longest device or service pattern (a device id is at most 128 bytes; room for `*`s).
    public static let maximumPatternBytes = 160
    /// The largest document read, in bytes.
    public static let maximumBytes = 4 * 1024 * 1024
    /// Depth and member bounds checked before anything is parsed.
    static let limits = JSONLimits(maximumDepth: 8, maximumMembers: 500_000)

    public init(tolerance: Tolerance = .balanced, includeDefault: Bool = true, statements: [PolicyStatement] = []) {
        self.tolerance = tolerance
        self.includeDefault = includeDefault
        self.statements = statements
    }

    /// Reads a document in JSON (it starts with `{`) or else YAML; the error names the field that breaks the
    /// rules, and for YAML the line it is on.
    public init(text bytes: some Collection<UInt8>) throws(WardenError) {
        guard let first = bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }),
            first != UInt8(ascii: "{")
        else {
            try self.init(json: bytes)
            return
        }
        guard bytes.count <= Self.maximumBytes else {
            throw WardenError(.policyInvalidDocument, "A policy document is at most \(Self.maximumBytes) bytes.")
        }
        guard let text = String(validating: Array(bytes), as: UTF8.self) else {
            throw WardenError(.policyInvalidDocument, "The policy document is not UTF-8.")
        }
        var lines: [String: Int] = [:]
        do throws(PolicyError) {
            let read = try PolicyYAML.read(text, limits: Self.limits)
            lines = read.lines
            self = try Self.read(Field(read.value, "document"))
        } catch {
            throw WardenError(.policyInvalidDocument, Self.located(error.description, lines))
        }
    }

    /// `message` with the line of the longest path it starts with: `line 7: statements[1].effect: …`.
    private static func located(_ message: String, _ lines: [String: Int]) -> String {
        var path = Substring(message.prefix { $0 != ":" && $0 != " " })
        while !path.isEmpty {
            if let line = lines[String(path)] { return "line \(line): \(message)" }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            path = path[..<cut]
        }
        return message
    }

    /// Reads a JSON document; the error names the field that breaks the rules.
    public init(json bytes: some Collection<UInt8>) throws(WardenError) {
        guard bytes.count <= Self.maximumBytes else {
            throw WardenError(.policyInvalidDocument, "A policy document is at most \(Self.maximumBytes) bytes.")
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes, limits: Self.limits)
        } catch {
            throw WardenError(.policyInvalidDocument, "The policy document is not JSON within bounds: \(error.reason)")
        }
        do throws(PolicyError) {
            self = try Self.read(Field(value, "document"))
        } catch {
            throw WardenError(.policyInvalidDocument, error.description)
        }
    }

    private static func read(_ document: Field) throws(PolicyError) -> PolicyDocument {
        try document.only(["tolerance", "include-default", "statements"])
        let tolerance = try document["tolerance"]?.choice(Tolerance.self) ?? .balanced
        let includeDefault = try document["include-default"]?.bool() ?? true
        let entries = try document["statements"]?.array(atMost: maximumStatements) ?? []
        var statements: [PolicyStatement] = []
        var ids: Set<String> = []
        for entry in entries {
            let statement = try readStatement(entry)
            guard ids.insert(statement.id).inserted else {
                throw PolicyError("\(entry.path).id: '\(statement.id)' is used twice")
            }
            statements.append(statement)
        }
        return PolicyDocument(tolerance: tolerance, includeDefault: includeDefault, statements: statements)
    }

    private static func readStatement(_ entry: Field) throws(PolicyError) -> PolicyStatement {
        try entry.only(["id", "effect", "principals", "actions", "resources", "conditions"])
        guard let idField = entry["id"] else { throw PolicyError("\(entry.path).id: required") }
        let id = try idField.string()
        guard (1...128).contains(id.utf8.count), !id.hasPrefix("default.") else {
            throw PolicyError("\(idField.path): 1 to 128 bytes, not starting with 'default.' (the shipped statements')")
        }
        guard let effect = try entry["effect"]?.choice(PolicyStatement.Effect.self) else {
            throw PolicyError("\(entry.path).effect: required, 'allow' or 'deny'")
        }
        guard let principalsField = entry["principals"] else { throw PolicyError("\(entry.path).principals: required") }
        let principals = try readPrincipals(principalsField)
        guard let actionsField = entry["actions"] else { throw PolicyError("\(entry.path).actions: required") }
        let actions = Set(try actionsField.choices(PolicyAction.self))
        guard !actions.isEmpty else { throw PolicyError("\(actionsField.path): at least one action") }
        var resources: [TopicTemplate] = []
        for resource in try entry["resources"]?.array(atMost: maximumResources) ?? [] {
            do throws(PolicyError) {
                resources.append(try TopicTemplate(try resource.string()))
            } catch {
                throw PolicyError("\(resource.path): \(error.description)")
            }
        }
        let conditions = try entry["conditions"].map(readConditions) ?? PolicyConditions()
        return PolicyStatement(
            id: id, effect: effect, principals: principals, actions: actions, resources: resources,
            conditions: conditions)
    }

    private static func readPrincipals(_ field: Field) throws(PolicyError) -> PolicyPrincipals {
        try field.only(["devices", "groups", "attributes", "authentication", "services", "permissions", "anonymous"])
        var principals = PolicyPrincipals()
        principals.devices = try field["devices"]?.patterns()
        principals.groups = try field["groups"].map { groups throws(PolicyError) in Set(try groups.list(GroupName.init))
        }
        if let attributes = field["attributes"] {
            var pairs: [String: String] = [:]
            for (name, value) in try attributes.object() { pairs[name] = try value.string() }
            principals.attributes = pairs
        }
        principals.authentication = try field["authentication"].map { methods throws(PolicyError) in
            Set(try methods.choices(Device.AuthenticationType.self))
        }
        principals.services = try field["services"]?.patterns()
        principals.permissions = try field["permissions"].map { permissions throws(PolicyError) in
            Set(try permissions.choices(SharedAccessPolicy.Permission.self))
        }
        principals.anonymous = try field["anonymous"]?.bool()
        guard principals.isSpecific else {
            throw PolicyError("\(field.path): name at least one kind of principal")
        }
        return principals
    }

    private static func readConditions(_ field: Field) throws(PolicyError) -> PolicyConditions {
        try field.only([
            "source-addresses", "protocols", "time", "risk-levels", "tls-versions", "certificate", "connection-age",
            "payload-size", "message-rate", "reported",
        ])
        var conditions = PolicyConditions()
        conditions.riskLevels = try field["risk-levels"].map { levels throws(PolicyError) in
            Set(try levels.choices(RiskLevel.self))
        }
        if let addresses = field["source-addresses"] {
            // A list: the address is in one of them; `{outside: [...]}`: in none of them.
            if case .object = addresses.value {
                try addresses.only(["within", "outside"])
                guard let list = addresses["within"] ?? addresses["outside"],
                    (addresses["within"] == nil) != (addresses["outside"] == nil)
                else { throw PolicyError("\(addresses.path): exactly one of 'within' and 'outside'") }
                conditions.sourceAddresses = try list.list(CIDR.init)
                conditions.addressesAreOutside = addresses["outside"] != nil
            } else {
                conditions.sourceAddresses = try addresses.list(CIDR.init)
            }
        }
        conditions.protocols = try field["protocols"]?.names(in: PolicyContext.protocolNames)
        if let time = field["time"] {
            try time.only(["within", "outside", "zone", "weekdays"])
            let within = try time["within"]?.string()
            let outside = try time["outside"]?.string()
            guard (within == nil) != (outside == nil), let window = within ?? outside else {
                throw PolicyError("\(time.path): exactly one of 'within' and 'outside'")
            }
            do throws(PolicyError) {
                conditions.time = try TimeWindow(
                    window: window, within: within != nil, zone: try time["zone"]?.string(),
                    weekdays: try time["weekdays"]?.array().map { day throws(PolicyError) in try day.string() })
            } catch {
                throw PolicyError("\(time.path): \(error.description)")
            }
        }
        conditions.tlsVersions = try field["tls-versions"]?.names(in: PolicyConditions.tlsVersionNames)
        if let certificate = field["certificate"] {
            try certificate.only(["issuers", "days-to-expiry"])
            let issuers = try certificate["issuers"].map { issuers throws(PolicyError) in
                try issuers.nonEmptyArray().map { issuer throws(PolicyError) in try issuer.string() }
            }
            let days = try certificate["days-to-expiry"].map { days throws(PolicyError) in
                try days.range(PolicyRange.number)
            }
            guard issuers != nil || days != nil else {
                throw PolicyError("\(certificate.path): at least one of 'issuers' and 'days-to-expiry'")
            }
            conditions.certificate = CertificateCondition(issuers: issuers, daysToExpiry: days)
        }
        conditions.connectionAge = try field["connection-age"].map { age throws(PolicyError) in
            try age.range(PolicyRange.duration)
        }
        conditions.payloadSize = try field["payload-size"].map { size throws(PolicyError) in
            try size.range(PolicyRange.number)
        }
        conditions.messageRate = try field["message-rate"].map { rate throws(PolicyError) in
            try rate.range(PolicyRange.number)
        }
        if let reported = field["reported"] {
            var read: [ReportedCondition] = []
            for (path, expected) in try reported.object() {
                read.append(try readReported(path, expected))
            }
            guard !read.isEmpty else { throw PolicyError("\(reported.path): at least one property") }
            conditions.reported = read
        }
        return conditions
    }

    /// The most levels of a reported property's path (IoT Hub nests twin properties at most 10 deep).
    static let maximumReportedDepth = 10

    /// `path: value`, `path: {one-of: [values]}`, `path: {none-of: [values]}` or `path: {at-least: n, at-most: m}`.
    private static func readReported(_ path: String, _ expected: Field) throws(PolicyError) -> ReportedCondition {
        let names = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard names.count <= maximumReportedDepth, names.allSatisfy({ (1...128).contains($0.utf8.count) }) else {
            throw PolicyError(
                "\(expected.path): a property path is 1 to \(maximumReportedDepth) names of 1 to 128 bytes, joined by '.'"
            )
        }
        if case .object(let members) = expected.value {
            let kinds: [(String, ([ReportedCondition.Value]) -> ReportedCondition.Expectation)] = [
                ("one-of", ReportedCondition.Expectation.oneOf), ("none-of", ReportedCondition.Expectation.noneOf),
            ]
            for (key, make) in kinds where members[key] != nil {
                try expected.only([key])
                // An empty list would make the statement never (one-of) or always (none-of) apply: a slip, not intent.
                let values = try expected[key]?.nonEmptyArray().map { value throws(PolicyError) in
                    try value.reported()
                }
                return ReportedCondition(path: names, expectation: make(values ?? []))
            }
            return ReportedCondition(path: names, expectation: .within(try expected.range(PolicyRange.number)))
        }
        return ReportedCondition(path: names, expectation: .oneOf([try expected.reported()]))
    }
}

extension PolicyRange {
    /// A number, as the document writes it.
    static func number(_ field: Field) throws(PolicyError) -> Double {
        switch field.value {
        // total: an Int as a Double, rounded beyond 2^53.
        case .number(let number): return Double(number)
        case .double(let number) where number.isFinite: return number
        default: throw PolicyError("\(field.path): a number")
        }
    }

    /// Seconds, as a number or a duration (`90s`, `15m`, `12h`, `7d`).
    static func duration(_ field: Field) throws(PolicyError) -> Double {
        if case .string(let text) = field.value {
            guard let seconds = DurationText.seconds(text) else {
                throw PolicyError("\(field.path): a duration such as 90s, 15m, 12h or 7d")
            }
            return seconds
        }
        return try number(field)
    }
}

/// A value of the document with its path (`statements[2].principals.groups[0]`), for errors that say where.
struct Field {
    let value: JSONValue
    let path: String

    init(_ value: JSONValue, _ path: String) {
        self.value = value
        self.path = path
    }

    subscript(_ name: String) -> Field? {
        guard case .object(let members) = value, let member = members[name] else { return nil }
        return Field(member, path == "document" ? name : "\(path).\(name)")
    }

    /// Refuses members other than `names`: a misspelt key must not silently mean nothing.
    func only(_ names: Set<String>) throws(PolicyError) {
        guard case .object(let members) = value else { throw PolicyError("\(path): an object") }
        if let unknown = members.keys.sorted().first(where: { !names.contains($0) }) {
            throw PolicyError("\(path): no field '\(unknown)' (known: \(names.sorted().joined(separator: ", ")))")
        }
    }

    func string() throws(PolicyError) -> String {
        guard case .string(let text) = value else { throw PolicyError("\(path): a string") }
        return text
    }

    func bool() throws(PolicyError) -> Bool {
        guard case .bool(let flag) = value else { throw PolicyError("\(path): true or false") }
        return flag
    }

    func array(atMost limit: Int = PolicyDocument.maximumListEntries) throws(PolicyError) -> [Field] {
        guard case .array(let elements) = value else { throw PolicyError("\(path): a list") }
        guard elements.count <= limit else { throw PolicyError("\(path): at most \(limit) entries") }
        return elements.enumerated().map { Field($1, "\(path)[\($0)]") }
    }

    func object() throws(PolicyError) -> [(String, Field)] {
        guard case .object(let members) = value else { throw PolicyError("\(path): an object") }
        guard members.count <= PolicyDocument.maximumListEntries else {
            throw PolicyError("\(path): at most \(PolicyDocument.maximumListEntries) entries")
        }
        return members.sorted { $0.key < $1.key }.map { ($0.key, Field($0.value, "\(path).\($0.key)")) }
    }

    /// `{at-least: …, at-most: …}`, each end read by `bound`.
    func range(_ bound: (Field) throws(PolicyError) -> Double) throws(PolicyError) -> PolicyRange {
        try only(["at-least", "at-most"])
        let low = try self["at-least"].map(bound)
        let high = try self["at-most"].map(bound)
        guard let range = PolicyRange(atLeast: low, atMost: high) else {
            throw PolicyError("\(path): 'at-least', 'at-most' or both, the first not above the second")
        }
        return range
    }

    /// A value a reported property is compared with: text, a number, true or false.
    func reported() throws(PolicyError) -> ReportedCondition.Value {
        guard let value = ReportedCondition.Value(value) else {
            throw PolicyError("\(path): text, a number, true or false")
        }
        return value
    }

    /// Device or service patterns: 1 to `maximumPatternBytes` bytes each.
    func patterns() throws(PolicyError) -> [String] {
        var texts: [String] = []
        for element in try array() {
            let text = try element.string()
            guard (1...PolicyDocument.maximumPatternBytes).contains(text.utf8.count) else {
                throw PolicyError("\(element.path): 1 to \(PolicyDocument.maximumPatternBytes) bytes")
            }
            texts.append(text)
        }
        return texts
    }

    /// A list of strings, each made into a value by `make`, whose refusal is said at the element's path.
    func list<Value>(_ make: (String) throws(WardenError) -> Value) throws(PolicyError) -> [Value] {
        var values: [Value] = []
        for element in try array() {
            let text = try element.string()
            do throws(WardenError) {
                values.append(try make(text))
            } catch {
                throw PolicyError("\(element.path): \(error.reason)")
            }
        }
        return values
    }

    /// A list with at least one entry.
    func nonEmptyArray() throws(PolicyError) -> [Field] {
        let elements = try array()
        guard !elements.isEmpty else { throw PolicyError("\(path): at least one entry") }
        return elements
    }

    /// A list of names, each one of `known`.
    func names(in known: Set<String>) throws(PolicyError) -> Set<String> {
        var set: Set<String> = []
        for element in try array() {
            let text = try element.string()
            guard known.contains(text) else { throw PolicyError("\(element.path): one of \(known.sorted())") }
            set.insert(text)
        }
        return set
    }

    /// A list of choices.
    func choices<Choice: RawRepresentable & CaseIterable>(_ type: Choice.Type) throws(PolicyError) -> [Choice]
    where Choice.RawValue == String {
        var values: [Choice] = []
        for element in try array() { values.append(try element.choice(type)) }
        return values
    }

    func choice<Choice: RawRepresentable & CaseIterable>(_ type: Choice.Type) throws(PolicyError) -> Choice
    where Choice.RawValue == String {
        let text = try string()
        guard let choice = Choice(rawValue: text) else {
            throw PolicyError("\(path): one of \(Choice.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return choice
    }
}
