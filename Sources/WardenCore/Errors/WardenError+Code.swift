extension WardenError {
    /// A stable error code: a dotted snake-case name and the kind of failure it is.
    ///
    /// The kind decides how each surface answers (HTTP status, CLI exit code) in exactly one place per surface.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The dotted snake-case name, such as `device.not_found`.
        public let name: String
        /// What sort of failure this is.
        public let kind: Kind

        /// Declares a code; every declared code must appear in `WardenError.Code.all` and docs/errors.md.
        public init(_ name: String, _ kind: Kind) {
            self.name = name
            self.kind = kind
        }

        public var description: String { name }

        public static func == (lhs: Code, rhs: Code) -> Bool { lhs.name == rhs.name }

        public func hash(into hasher: inout Hasher) { hasher.combine(name) }
    }

    /// The families of failure that surfaces map to their own vocabulary.
    public enum Kind: String, Sendable, CaseIterable {
        /// The input is malformed or breaks a rule.
        case invalidInput
        /// No credential, or one that does not verify.
        case unauthenticated
        /// The caller is known but not allowed.
        case forbidden
        /// The resource does not exist (or is not visible to the caller).
        case notFound
        /// The resource already exists or the change clashes with current state.
        case conflict
        /// An If-Match precondition failed.
        case preconditionFailed
        /// A configured limit was reached.
        case limitExceeded
        /// The input was too large.
        case tooLarge
        /// A dependency (store, disk) is not available right now.
        case unavailable
        /// Something the request waited for (a device's answer) did not come in time.
        case timeout
        /// A bug or an unexpected failure; details stay in the log.
        case `internal`
    }
}
