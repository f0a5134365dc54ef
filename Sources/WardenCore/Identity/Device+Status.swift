extension Device {
    /// Whether a device may use any device-facing endpoint.
    public enum Status: String, Sendable, Codable, CaseIterable {
        case enabled
        case disabled
    }

    /// The longest status reason accepted, as in Azure.
    public static let maximumStatusReasonLength = 128
}
