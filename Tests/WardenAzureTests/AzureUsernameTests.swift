import Testing
import WardenAzure
import WardenCore

struct AzureUsernameTests {
    @Test(arguments: [
        ("contoso.azure-devices.net/MyDevice01/?api-version=2021-04-12", "contoso.azure-devices.net", "MyDevice01"),
        (
            "localhost/probe-device-1/?api-version=2019-10-01&DeviceClientType=azure-iot-device-iothub-py%2F2.14.0%28x%29",
            "localhost", "probe-device-1"
        ),
        ("Host/d/api-version=2016-11-14", "host", "d"),
        ("host/d", "host", "d"),
        ("host/weird#id$/?api-version=1", "host", "weird#id$"),
    ])
    func parsesThePath(_ text: String, _ host: String, _ device: String) {
        let username = AzureUsername(text)
        #expect(username?.hostName == host && username?.deviceID.rawValue == device)
    }

    @Test(arguments: ["", "host", "host/", "/d", "host/d/m/?api-version=1", "host/a b/", "host//"])
    func refusesOtherShapes(_ text: String) {
        #expect(AzureUsername(text) == nil)
    }
}
