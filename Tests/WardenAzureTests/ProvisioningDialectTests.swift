import Testing
import WardenAzure
import WardenCore

/// DPS's MQTT username and topics as each SDK writes them (protocols.md §1.1–1.2), and what is not one.
struct ProvisioningDialectTests {
    @Test(arguments: [
        "0ne00ABCDEF/registrations/sn-007/api-version=2019-03-31&ClientVersion=azure-iot-device-provisioning-py%2F2.14.0",
        "0ne00ABCDEF/registrations/sn-007/api-version=2021-06-01&ClientVersion=1.15.0",
        "0ne00ABCDEF/registrations/sn-007/?api-version=2019-03-31",
        "0ne00ABCDEF/registrations/sn-007",
    ])
    func readsEverySDKsUsername(_ text: String) throws {
        let username = try #require(ProvisioningUsername(text))
        #expect(username.idScope == "0ne00ABCDEF" && username.registrationID.rawValue == "sn-007")
        #expect(username.resource == "0ne00ABCDEF/registrations/sn-007")
    }

    @Test(arguments: [
        "hub.example/sn-007/?api-version=2021-04-12", "0ne00abcdef/registrations/sn-007", "0NE00ABCDEF/registrations/x",
        "0ne00ABCDE/registrations/sn-007", "0ne00ABCDEF/registration/sn-007", "0ne00ABCDEF/registrations/",
        "0ne00ABCDEF/registrations/a/b", "0ne00ABCDEF/registrations/has space", "",
    ])
    func refusesWhatIsNotOne(_ text: String) {
        #expect(ProvisioningUsername(text) == nil)
    }

    @Test func readsRequestsAndWritesResponses() {
        #expect(
            ProvisioningRequest(topic: "$dps/registrations/PUT/iotdps-register/?$rid=7f3c")
                == .register(requestID: "7f3c"))
        #expect(
            ProvisioningRequest(topic: "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=op-1")
                == .operationStatus(requestID: "2", operationID: "op-1"))
        for topic in [
            "$dps/registrations/PUT/iotdps-register/", "$dps/registrations/PUT/iotdps-register/?$rid=",
            "$dps/registrations/PUT/iotdps-register/?$rid=a/b", "$dps/registrations/PUT/iotdps-register/?$rid=a#",
            "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2", "$dps/registrations/res/202/?$rid=1",
            "$dps/registrations/PUT/iotdps-register/?$rid=" + String(repeating: "r", count: 129),
            "devices/x/messages/events/",
        ] {
            #expect(ProvisioningRequest(topic: topic) == nil, "\(topic)")
        }
        #expect(
            ProvisioningRequest.responseTopic(status: 202, requestID: "7f3c", retryAfter: 1)
                == "$dps/registrations/res/202/?$rid=7f3c&retry-after=1")
        #expect(
            ProvisioningRequest.responseTopic(status: 200, requestID: "7f3c", retryAfter: nil)
                == "$dps/registrations/res/200/?$rid=7f3c")
    }
}
