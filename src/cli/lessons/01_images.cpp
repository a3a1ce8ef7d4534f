// Lesson 1: images as tensors and preprocessing (lessons/01-images.md).
// Source to read: src/io/image.cpp, decode_image; src/pipeline/preprocess.cpp, preprocess.
#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"

namespace vitrace::cli {

void lesson_01(Lesson& l) {
    l.say("A picture is a grid of pixels, and each pixel is three numbers from 0 to 255: red, green and "
          "blue. To a model it is a tensor. Before the first layer, vitrace takes the steps of torchvision's "
          "transforms: decode the file, cut the centred square and resize it to the model's input size S, "
          "scale the values to [0, 1], put the channels first, and normalise each channel with a mean and a "
          "standard deviation. The resize filter is vitrace's own, not torchvision's: lessons/01-images.md "
          "says how they differ.");
    l.command(trace_command("'input.*'"));
    l.run(kSmallVit);
    l.line();

    l.say("input.decode: the file's 64x64 pixels as decoded, channels last, values 0 to 255.");
    l.summary("input.decode");
    l.line();
    l.say("input.resize: this small model takes S = 8, so the centred square of the image is resized to "
          "8x8. Still channels last, still 0 to 255.");
    l.summary("input.resize");
    l.line();
    l.say("input.scale: divided by 255 and turned channels first, [rgb, img_h, img_w], the layout PyTorch "
          "uses (torchvision's ToTensor). Channel 1 (green) shows the ring: brighter values in a circle.");
    l.show("input.scale");

    l.say("input.normalize: (x - mean[c]) / std[c] with ImageNet's mean 0.485, 0.456, 0.406 and std "
          "0.229, 0.224, 0.225, so that each channel is roughly centred on 0 with spread 1, which is what "
          "the weights of a pretrained model expect.");
    l.show("input.normalize");

    // One pixel through all four steps, with the real numbers.
    const float p = l.step("input.resize").values[0];  // [img_h=0, img_w=0, rgb=0]
    const float s = l.step("input.scale").values[0];
    const float n = l.step("input.normalize").values[0];
    l.say("Follow one value, the red channel of the top-left pixel:");
    l.line("  input.resize     " + fixed(p, 0) + "  (a byte)");
    l.line("  input.scale      " + fixed(p, 0) + " / 255 = " + fixed(s));
    l.line("  input.normalize  (" + fixed(s) + " - 0.485) / 0.229 = " + fixed(n));
    l.line();

    l.exercise("What does the green value of the pixel at img_h=4, img_w=3 become after normalisation? "
               "Take it from input.scale above and compute (x - 0.456) / 0.224 by hand.",
               trace_command("input.normalize"));
}

}  // namespace vitrace::cli
