/// The one error type every Warden service throws: a stable code, a human reason and where it was raised.
///
/// Codes never change meaning once shipped (docs/errors.md lists them). `reason` is written for an operator
/// and never holds a secret. Two errors are equal when their codes are equal, so tests match on the code.
public struct WardenError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stable, machine-readable code (`device.not_found`).
    public let code: Code
    /// A sentence for people; never contains a key, token or password.
    public let reason: String
    /// The source file that raised the error, for logs only.
    public let file: String
    /// The source line that raised the error, for logs only.
    public let line: Int
    /// Seconds until trying again can succeed (HTTP `Retry-After`), for lockouts and full queues.
    public var retryAfter: Int?

    /// Makes an error; prefer the static factories next to each code's definition.
    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public var description: String { "\(code.name): \(reason)" }

    public static func == (lhs: WardenError, rhs: WardenError) -> Bool { lhs.code == rhs.code }

    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
