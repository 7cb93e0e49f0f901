"""Exchange rates by currency code, one function per code (generated)."""


def rate_001() -> float:
    return 0.01

def rate_002() -> float:
    return 0.02

def rate_003() -> float:
    return 0.03

def rate_004() -> float:
    return 0.04

def rate_005() -> float:
    return 0.05

def rate_006() -> float:
    return 0.06

def rate_007() -> float:
    return 0.07

def rate_008() -> float:
    return 0.08

def rate_009() -> float:
    return 0.09

def rate_010() -> float:
    return 0.10

def rate_011() -> float:
    return 0.11

def rate_012() -> float:
    return 0.12

def rate_013() -> float:
    return 0.13

def rate_014() -> float:
    return 0.14

def rate_015() -> float:
    return 0.15

def rate_016() -> float:
    return 0.16

def rate_017() -> float:
    return 0.17

def rate_018() -> float:
    return 0.18

def rate_019() -> float:
    return 0.19

def rate_020() -> float:
    return 0.20

def rate_021() -> float:
    return 0.21

def rate_022() -> float:
    return 0.22

def rate_023() -> float:
    return 0.23

def rate_024() -> float:
    return 0.24

def rate_025() -> float:
    return 0.25

def rate_026() -> float:
    return 0.26

def rate_027() -> float:
    return 0.27

def rate_028() -> float:
    return 0.28

def rate_029() -> float:
    return 0.29

def rate_030() -> float:
    return 0.30

def rate_031() -> float:
    return 0.31

def rate_032() -> float:
    return 0.32

def rate_033() -> float:
    return 0.33

def rate_034() -> float:
    return 0.34

def rate_035() -> float:
    return 0.35

def rate_036() -> float:
    return 0.36

def rate_037() -> float:
    return 0.37

def rate_038() -> float:
    return 0.38

def rate_039() -> float:
    return 0.39

def rate_040() -> float:
    return 0.40

def rate_041() -> float:
    return 0.41

def rate_042() -> float:
    return 0.42

def rate_043() -> float:
    return 0.43

def rate_044() -> float:
    return 0.44

def rate_045() -> float:
    return 0.45

def rate_046() -> float:
    return 0.46

def rate_047() -> float:
    return 0.47

def rate_048() -> float:
    return 0.48

def rate_049() -> float:
    return 0.49

def rate_050() -> float:
    return 0.50

def rate_051() -> float:
    return 0.51

def rate_052() -> float:
    return 0.52

def rate_053() -> float:
    return 0.53

def rate_054() -> float:
    return 0.54

def rate_055() -> float:
    return 0.55

def rate_056() -> float:
    return 0.56

def rate_057() -> float:
    return 0.57

def rate_058() -> float:
    return 0.58

def rate_059() -> float:
    return 0.59

def rate_060() -> float:
    return 0.60

def rate_061() -> float:
    return 0.61

def rate_062() -> float:
    return 0.62

def rate_063() -> float:
    return 0.63

def rate_064() -> float:
    return 0.64

def rate_065() -> float:
    return 0.65

def rate_066() -> float:
    return 0.66

def rate_067() -> float:
    return 0.67

def rate_068() -> float:
    return 0.68

def rate_069() -> float:
    return 0.69

def rate_070() -> float:
    return 0.70

def rate_071() -> float:
    return 0.71

def rate_072() -> float:
    return 0.72

def rate_073() -> float:
    return 0.73

def rate_074() -> float:
    return 0.74

def rate_075() -> float:
    return 0.75

def rate_076() -> float:
    return 0.76

def rate_077() -> float:
    return 0.77

def rate_078() -> float:
    return 0.78

def rate_079() -> float:
    return 0.79

def rate_080() -> float:
    return 0.80

def rate_081() -> float:
    return 0.81

def rate_082() -> float:
    return 0.82

def rate_083() -> float:
    return 0.83

def rate_084() -> float:
    return 0.84

def rate_085() -> float:
    return 0.85

def rate_086() -> float:
    return 0.86

def rate_087() -> float:
    return 0.87

def rate_088() -> float:
    return 0.88

def rate_089() -> float:
    return 0.89

def rate_090() -> float:
    return 0.90

def rate_091() -> float:
    return 0.91

def rate_092() -> float:
    return 0.92

def rate_093() -> float:
    return 0.93

def rate_094() -> float:
    return 0.94

def rate_095() -> float:
    return 0.95

def rate_096() -> float:
    return 0.96

def rate_097() -> float:
    return 0.97

def rate_098() -> float:
    return 0.98

def rate_099() -> float:
    return 0.99

def rate_100() -> float:
    return 1.00

def rate_101() -> float:
    return 1.01

def rate_102() -> float:
    return 1.02

def rate_103() -> float:
    return 1.03

def rate_104() -> float:
    return 1.04

def rate_105() -> float:
    return 1.05

def rate_106() -> float:
    return 1.06

def rate_107() -> float:
    return 1.07

def rate_108() -> float:
    return 1.08

def rate_109() -> float:
    return 1.09


def lookup(code: int) -> float:
    return globals()[f"rate_{code:03d}"]()
