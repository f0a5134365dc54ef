import WardenAzure
import WardenBroker

@testable import WardenHub

/// A device's PUBLISH handed to one service the way `HubTraffic` hands it on: nil when its topic is not that
/// service's.
extension TwinService {
    func received(_ message: BrokerMessage, from sender: DeviceSender) -> DeviceTrafficOutcome? {
        switch AzureTopic(message.topic) {
        case .twinGet(let requestID): get(requestID, from: sender)
        case .twinReportedPatch(let requestID): patchReported(message.payload, requestID, from: sender)
        default: nil
        }
    }
}

extension MethodService {
    func received(_ message: BrokerMessage, from sender: DeviceSender) -> DeviceTrafficOutcome? {
        guard case .methodResponse(let status, let requestID) = AzureTopic(message.topic) else { return nil }
        return answered(status, requestID, message, from: sender)
    }
}
